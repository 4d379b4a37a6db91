import * as fs from "node:fs"
import * as nodePath from "node:path"
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Layer, Option } from "effect"
import { UsageError } from "../../domain/Errors.ts"
import { resolvePolicy } from "../../domain/Policy.ts"
import * as Hasher from "../../services/Hasher.ts"
import * as ReleaseReader from "../../services/ReleaseReader.ts"
import type { VerifyFinding, VerifyOutcome } from "../../services/Verifier.ts"
import { setExitCode } from "../exit.ts"
import { readPolicyFile } from "../inputs.ts"
import { verboseOption } from "../repository.ts"

const verifyOptions = {
  verbose: verboseOption,
  releaseDir: Args.directory({ name: "release-dir", exists: "either" }).pipe(
    Args.withDescription(
      "Directory holding the release (files, manifest.json or SHA256SUMS, signatures, ...)"
    )
  ),
  version: Options.text("release-version").pipe(
    Options.withDescription(
      "Expected version (also --version): the manifest's version must match it"
    ),
    Options.optional
  ),
  trustedKeys: Options.directory("trusted-keys", { exists: "yes" }).pipe(
    Options.withDescription(
      "Directory of trusted public keys (PEM, minisign .pub, OpenPGP .asc/.gpg, trusted_root.json)"
    ),
    Options.optional
  ),
  policy: Options.choice("policy", ["strict", "lenient"]).pipe(
    Options.withDescription(
      "strict (default) fails on any failed check; lenient only on refused input"
    ),
    Options.optional
  ),
  policyFile: Options.file("policy-file", { exists: "yes" }).pipe(
    Options.withDescription(
      "JSON policy file (docs/policy.md): mode, require_*, trusted_keys; flags override it"
    ),
    Options.optional
  ),
  output: Options.file("output").pipe(
    Options.withDescription(
      "Write the verification result JSON here (publish --verification-result reads it)"
    ),
    Options.optional
  ),
  json: Options.boolean("json").pipe(
    Options.withDescription("Print the result JSON instead of the table")
  ),
  expectedBuilder: Options.text("expected-builder").pipe(
    Options.withDescription("Builder id the SLSA provenance must name"),
    Options.optional
  ),
  expectedSource: Options.text("expected-source").pipe(
    Options.withDescription(
      "Source repository the SLSA provenance must name (e.g. github.com/org/repo)"
    ),
    Options.optional
  ),
  requireSignatures: Options.boolean("require-signatures").pipe(
    Options.withDescription("Fail (34) unless a valid signature covers every artifact")
  ),
  requireEncryption: Options.boolean("require-encryption").pipe(
    Options.withDescription("Fail (35) unless the release holds age-encrypted (.enc) artifacts")
  )
}

type VerifyArgs = Command.Command.ParseConfig<typeof verifyOptions>

const cell = (s: string | undefined) => (s === undefined || s === "" ? "-" : s)

/** The findings as a table: FILE, CHECK, OK, REASON, KEY, DETAIL. */
export const renderFindings = (findings: ReadonlyArray<VerifyFinding>): string => {
  const rows = [
    ["FILE", "CHECK", "OK", "REASON", "KEY", "DETAIL"],
    ...findings.map((f) => [f.file, f.check, f.ok ? "yes" : "NO", f.reason, cell(f.key), f.detail])
  ]
  const widths = [0, 1, 2, 3, 4].map((i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows
    .map((r) =>
      r
        .map((c, i) => (i < 5 ? c.padEnd(widths[i]!) : c))
        .join("  ")
        .trimEnd()
    )
    .join("\n")
}

const summary = (outcome: VerifyOutcome): string => {
  const r = outcome.result
  const checks = [
    `hashes ${r.hash_verified ? "verified" : "not verified"}`,
    `signatures ${r.signature_verified ? "verified" : "not verified"}`,
    `SBOM ${r.sbom_validated ? "valid" : "not validated"}`,
    `provenance ${r.slsa_validated ? "valid" : "not validated"}`
  ].join(", ")
  return r.passed
    ? `verification passed (${checks})`
    : `verification failed, exit ${r.exit_code} (${checks})`
}

const writeOutput = (file: string, text: string) =>
  Effect.try({
    try: () => fs.writeFileSync(file, text),
    catch: (e) =>
      new UsageError({ message: `--output ${file}: cannot be written (${(e as Error).message})` })
  })

const handler = (args: VerifyArgs) =>
  Effect.gen(function* () {
    const policyFile = Option.isSome(args.policyFile)
      ? yield* readPolicyFile(args.policyFile.value)
      : undefined
    const policy = resolvePolicy(policyFile, {
      mode: Option.getOrUndefined(args.policy),
      requireSignatures: args.requireSignatures,
      requireEncryption: args.requireEncryption
    })
    // A policy file's trusted_keys is relative to the policy file.
    const trustedKeysDir =
      Option.getOrUndefined(args.trustedKeys) ??
      (policyFile?.trusted_keys === undefined || Option.isNone(args.policyFile)
        ? undefined
        : nodePath.resolve(nodePath.dirname(args.policyFile.value), policyFile.trusted_keys))

    // The verifiers pull in openpgp, Sigstore and ajv: load them only when verifying.
    const { verifyRelease } = yield* Effect.promise(() => import("../../services/Verifier.ts"))
    const outcome = yield* verifyRelease({
      dir: args.releaseDir,
      version: Option.getOrUndefined(args.version),
      trustedKeysDir,
      expectedBuilderId: Option.getOrUndefined(args.expectedBuilder),
      expectedSourceRepository: Option.getOrUndefined(args.expectedSource),
      requireSignatures: args.requireSignatures,
      policy
    }).pipe(
      Effect.catchTag(
        "TrustedKeyError",
        (e) => new UsageError({ message: `trusted keys: ${e.message}` })
      ),
      Effect.provide(Layer.mergeAll(ReleaseReader.layer, Hasher.layer))
    )

    const json = JSON.stringify(outcome.result, null, 2) + "\n"
    if (Option.isSome(args.output)) yield* writeOutput(args.output.value, json)
    if (args.json) {
      yield* Console.log(json.trimEnd())
    } else {
      yield* Console.log(renderFindings(outcome.result.findings))
      for (const w of outcome.result.warnings) yield* Console.log(`warning: ${w}`)
      yield* Console.log(summary(outcome))
    }
    const first = outcome.failures[0]
    if (first !== undefined) yield* Console.error(`relpub: ${first.detail}`)
    yield* setExitCode(outcome.exitCode)
  })

/**
 * `relpub verify <release-dir>`: the checks a publish makes, as a report and a
 * verification result file (docs/verification.md).
 *
 * @category commands
 */
export const verifyCommand = Command.make("verify", verifyOptions, handler).pipe(
  Command.withDescription(
    "Verify a release directory (hashes, signatures against trusted keys, SBOM, SLSA provenance, " +
      "age-encrypted files) and write the verification result publish reads"
  )
)
