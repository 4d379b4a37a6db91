// Secrets are never printed, logged or written to reports: every command runs
// with canary credentials (and a signing key), accepted or refused by the
// server, with --verbose and --json-report where the command takes them, and
// no canary may appear in stdout, stderr or a report file.
import { assert, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { describe } from "vitest"
import { type CliResult, describeResult, scopedRelease, scopedTempDir } from "../support/cli.ts"
import type { ReleaseFixture } from "../support/release.ts"
import { scopedProxy } from "./faultProxy.ts"
import { checked, type Cloud, publishArgs, relpub, signingKey, type SuiteContext } from "./support.ts"

interface Seen {
  readonly what: string
  readonly text: string
}

const outputs = (what: string, r: CliResult): Array<Seen> => [
  { what: `${what}: stdout`, text: r.stdout },
  { what: `${what}: stderr`, text: r.stderr }
]

/** Every command against `repository`; each must exit `expected` (0, or 36 when refused). */
const everyCommand = (
  c: Cloud,
  release: ReleaseFixture,
  key: string,
  title: string,
  repository: ReadonlyArray<string>,
  env: Readonly<Record<string, string>>,
  expected: 0 | 36
) =>
  Effect.gen(function*() {
    const seen: Array<Seen> = []
    const json = path.join(release.root, "report.json")
    const text = path.join(release.root, "report.txt")
    fs.rmSync(json, { force: true })
    fs.rmSync(text, { force: true })
    const publish = yield* relpub(c, publishArgs(release, "v1.0.0", repository,
      ["--verbose", "--json-report", json, "--text-report", text, "--signing-key", key]), { env })
    assert.strictEqual(publish.code, expected, `${title}: publish\n${describeResult(publish)}`)
    seen.push(...outputs(`${title}: publish`, publish))
    seen.push({ what: `${title}: --json-report`, text: fs.readFileSync(json, "utf8") })
    seen.push({ what: `${title}: --text-report`, text: fs.readFileSync(text, "utf8") })
    // list, show, doctor and repair take no --verbose (see the test below) nor --json-report;
    // show reads what list reads, so it runs only where there is something to show.
    const others = [["list", "--json"], ["doctor", "--json"], ["repair", "--json"]]
    if (expected === 0) others.push(["show", "v1.0.0", "--json"])
    for (const args of others) {
      const r = yield* relpub(c, [...args, ...repository], { env })
      assert.strictEqual(r.code, expected, `${title}: ${args[0]}\n${describeResult(r)}`)
      seen.push(...outputs(`${title}: ${args[0]}`, r))
    }
    return seen
  })

export const secretTests = ({ cloud, fresh, probed }: SuiteContext, backendIndependent: boolean) => {
  describe("when the credentials are canaries", () => {
    it.scopedLive("no command prints, logs or reports them, accepted or refused", () =>
      Effect.gen(function*() {
        const c = cloud()
        const canary = `relpubcanary${randomBytes(8).toString("hex")}`
        const dir = yield* scopedTempDir("relpub-canary-")
        const seen: Array<Seen> = []
        const secrets = new Set<string>([canary])
        for (const s of c.target.secrets(canary, dir)) {
          const release = yield* scopedRelease()
          const key = signingKey(release)
          s.secrets.forEach((x) => secrets.add(x))
          secrets.add(key.body)
          // Refused credentials fail in the backend probe, whose messages are checked too.
          const root = s.accepted ? yield* probed("secrets") : fresh("secrets")
          const repository = s.repository?.(root) ?? c.target.repository(root)
          seen.push(...yield* everyCommand(c, release, key.file, s.title, repository, s.env, s.accepted ? 0 : 36))
          if (s.accepted) yield* checked(c, root)
          if (s.refuseThroughProxy === true) {
            const proxy = yield* scopedProxy(c.target.origin, [
              { mode: "respond", status: 403, body: c.target.forbiddenBody }
            ])
            const refused = c.target.repository(fresh("secrets-refused"), proxy.url)
            seen.push(...yield* everyCommand(c, release, key.file, `${s.title}, refused`, refused, s.env, 36))
          }
        }
        for (const { args, secret } of c.target.usageWithSecret(fresh("secrets-usage"), canary)) {
          secrets.add(secret)
          const r = yield* relpub(c, args)
          assert.strictEqual(r.code, 2, describeResult(r))
          seen.push(...outputs(args.join(" "), r))
        }
        assert.isAbove(seen.length, 10)
        for (const secret of secrets) {
          assert.isAbove(secret.length, 11, "a secret too short to search for")
          for (const { what, text } of seen) assert.notInclude(text, secret, `${what} shows a secret`)
        }
      }), 120_000)

    if (backendIndependent) {
      // Regression: only publish declared --verbose; the others refused it with exit 2.
      it.scopedLive("list, show, doctor and repair accept --verbose", () =>
        Effect.gen(function*() {
          const c = cloud()
          const root = fresh("verbose")
          for (const args of [["list"], ["show", "v1.0.0"], ["doctor"], ["repair"]]) {
            const r = yield* relpub(c, [...args, "--verbose", ...c.target.repository(root)])
            assert.include([0, 33], r.code, describeResult(r))
          }
        }))
    }
  })
}
