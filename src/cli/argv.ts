/**
 * @effect/cli reserves `--version` for the tool's own version, but the
 * original specification's CI scripts pass the release version as
 * `publish --version v1.2.3`. After a subcommand, `--version` is rewritten to
 * `--release-version`; before one, it still prints relpub's version.
 */
const TAKES_RELEASE_VERSION = new Set(["publish", "show", "prepare", "fetch", "verify"])

export const rewriteArgv = (argv: ReadonlyArray<string>): Array<string> => {
  const [node = "node", script = "relpub", ...rest] = argv
  const command = rest.findIndex((a) => !a.startsWith("-"))
  if (command < 0 || !TAKES_RELEASE_VERSION.has(rest[command]!)) return [node, script, ...rest]
  const out = rest.map((a, i) => {
    if (i <= command) return a
    if (a === "--version") return "--release-version"
    if (a.startsWith("--version=")) return `--release-version=${a.slice("--version=".length)}`
    return a
  })
  // A lone `--release-version` with no value must still fail as a usage error, not print a version.
  return [node, script, ...out]
}
