import * as fs from "node:fs"
import * as nodePath from "node:path"
import { Args, Command, Options } from "@effect/cli"
import { Clock, Console, Effect, Either, Layer, Option, Ref } from "effect"
import { KeyError, UsageError } from "../../domain/Errors.ts"
import { PolicyFile, resolvePolicy } from "../../domain/Policy.ts"
import { renderTextReport } from "../../domain/Report.ts"
import * as Hasher from "../../services/Hasher.ts"
import { publish, type PublishRequest } from "../../services/Publisher.ts"
import * as ReleaseReader from "../../services/ReleaseReader.ts"
import { Repository } from "../../services/Repository.ts"
import * as Runtime from "../../services/Runtime.ts"
import * as Signer from "../../services/Signer.ts"
import { setExitCode } from "../exit.ts"
import { readPolicyFile, signerFromFile } from "../inputs.ts"
import { buildReport } from "../report.ts"
import { describeTarget, redact } from "../../services/RepositoryUrl.ts"
import {
  DEFAULT_REPOSITORY,
  repositoryLayer,
  repositoryOptions,
  resolveRepository
} from "../repository.ts"

const releaseDirArg = Args.directory({ name: "release-dir", exists: "either" }).pipe(
  Args.withDescription(
    "Directory holding the release (its files, manifest.json or SHA256SUMS, signatures, ...)"
  ),
  Args.optional
)

export const publishOptions = {
  releaseDirArg,
  releaseDir: Options.text("release-dir").pipe(
    Options.withDescription("Release directory (same as the positional argument)"),
    Options.optional
  ),
  version: Options.text("release-version").pipe(
    Options.withDescription(
      "Version to publish, a semantic version such as 1.4.0 or v1.4.0 (also --version)"
    )
  ),
  ...repositoryOptions,
  policy: Options.choice("policy", ["strict", "lenient"]).pipe(
    Options.withAlias("publication-policy"),
    Options.withDescription(
      "strict (default) fails on any violation; lenient publishes with warnings"
    ),
    Options.optional
  ),
  policyFile: Options.file("policy-file", { exists: "yes" }).pipe(
    Options.withDescription("JSON policy file (docs/policy.md); flags override it"),
    Options.optional
  ),
  verificationResult: Options.file("verification-result").pipe(
    Options.withDescription(
      "Verification result JSON; without it relpub verifies the hashes itself"
    ),
    Options.optional
  ),
  validationResult: Options.file("validation-result").pipe(
    Options.withDescription("Post-release validation result JSON (required by the strict policy)"),
    Options.optional
  ),
  trustedKeys: Options.directory("trusted-keys", { exists: "yes" }).pipe(
    Options.withDescription(
      "Trusted public keys: relpub then verifies signatures, SBOM, provenance and .enc files itself"
    ),
    Options.optional
  ),
  signingKey: Options.file("signing-key", { exists: "yes" }).pipe(
    Options.withDescription(
      "PEM private key (Ed25519, ECDSA P-256, RSA) that signs release and audit records"
    ),
    Options.optional
  ),
  signAuditLog: Options.boolean("sign-audit-log").pipe(
    Options.withDescription("Require the audit record to be signed (needs --signing-key)")
  ),
  requireSignatures: Options.boolean("require-signatures").pipe(
    Options.withDescription(
      "Fail (34) unless every artifact, or the manifest, has a detached signature"
    )
  ),
  requireEncryption: Options.boolean("require-encryption").pipe(
    Options.withDescription("Fail (35) unless the release holds encrypted (.enc) artifacts")
  ),
  allowUnsafeBackend: Options.boolean("allow-unsafe-backend").pipe(
    Options.withDescription(
      "Publish even if the repository failed the create-only or compare-and-swap probes"
    )
  ),
  dryRun: Options.boolean("dry-run").pipe(
    Options.withDescription("Check everything and report, but write nothing to the repository")
  ),
  json: Options.boolean("json").pipe(
    Options.withDescription("Print the JSON report on stdout instead of the text")
  ),
  jsonReport: Options.file("json-report").pipe(
    Options.withDescription("Also write the JSON report to this file"),
    Options.optional
  ),
  textReport: Options.file("text-report").pipe(
    Options.withDescription("Also write the text report to this file"),
    Options.optional
  ),
  leaseSeconds: Options.integer("lease-seconds").pipe(
    Options.withDescription(
      "How long this publish's claim holds before others may roll it back (default 900)"
    ),
    Options.optional
  )
}

type PublishArgs = Command.Command.ParseConfig<typeof publishOptions>

const signerLayer = (args: PublishArgs): Layer.Layer<Signer.Signer, KeyError | UsageError> =>
  Option.isNone(args.signingKey) && args.signAuditLog
    ? Layer.fail(
        new UsageError({
          message: "--sign-audit-log needs a key: give --signing-key FILE (relpub keygen makes one)"
        })
      )
    : signerFromFile(args.signingKey)

const writeFile = (file: string, text: string) =>
  Effect.try({
    try: () => fs.writeFileSync(file, text),
    catch: (e) =>
      new UsageError({ message: `${file}: cannot write the report (${(e as Error).message})` })
  })

const requestOf = (args: PublishArgs, policyFile: PolicyFile | undefined): PublishRequest => ({
  releaseDir: Option.getOrElse(
    Option.orElse(args.releaseDirArg, () => args.releaseDir),
    () => ""
  ),
  version: args.version,
  policy: resolvePolicy(policyFile, {
    mode: Option.getOrUndefined(args.policy),
    requireSignatures: args.requireSignatures,
    requireEncryption: args.requireEncryption
  }),
  verificationResultFile: Option.getOrUndefined(args.verificationResult),
  validationResultFile: Option.getOrUndefined(args.validationResult),
  trustedKeysDir:
    Option.getOrUndefined(args.trustedKeys) ??
    (policyFile?.trusted_keys === undefined || Option.isNone(args.policyFile)
      ? undefined
      : nodePath.resolve(nodePath.dirname(args.policyFile.value), policyFile.trusted_keys)),
  dryRun: args.dryRun,
  allowUnsafeBackend: args.allowUnsafeBackend,
  leaseMillis: Option.getOrUndefined(Option.map(args.leaseSeconds, (s) => s * 1000))
})

// Everything that can fail, the command line's own mistakes included, ends in
// the report: a CI job that always uploads --json-report gets one.
const attempt = (
  args: PublishArgs,
  where: Ref.Ref<{ readonly type: string; readonly path: string }>
) =>
  Effect.gen(function* () {
    if (Option.isNone(args.releaseDirArg) && Option.isNone(args.releaseDir)) {
      return yield* new UsageError({
        message: "give the release directory (relpub publish DIR --version V)"
      })
    }
    const policyFile = Option.isSome(args.policyFile)
      ? yield* readPolicyFile(args.policyFile.value)
      : undefined
    const layers = Layer.mergeAll(
      repositoryLayer(args),
      signerLayer(args),
      ReleaseReader.layer,
      Runtime.layer
    ).pipe(Layer.provideMerge(Hasher.layer))
    return yield* Effect.gen(function* () {
      const repo = yield* Repository
      yield* Ref.set(where, { type: repo.kind, path: repo.location })
      return yield* publish(requestOf(args, policyFile))
    }).pipe(Effect.provide(layers))
  })

const handler = (args: PublishArgs) =>
  Effect.gen(function* () {
    const given = Option.getOrElse(
      Option.orElse(args.repository, () => args.repositoryPath),
      () => DEFAULT_REPOSITORY
    )
    // Where the report says it published before the layer exists (a usage
    // error or an unreachable store): the parsed target when the flags parse.
    const target = yield* Effect.either(resolveRepository(args))
    const where = yield* Ref.make(
      Either.isRight(target)
        ? { type: target.right.kind, path: describeTarget(target.right) }
        : { type: args.repositoryType.pipe(Option.getOrElse(() => "local")), path: redact(given) }
    )
    const startedAt = yield* Clock.currentTimeMillis
    const exit = yield* Effect.exit(attempt(args, where))
    const finishedAt = yield* Clock.currentTimeMillis
    const location = yield* Ref.get(where)
    const report = buildReport(
      {
        request: requestOf(args, undefined),
        repositoryType: location.type,
        repositoryLocation: location.path,
        startedAt,
        finishedAt
      },
      exit
    )
    const text = renderTextReport(report)
    if (Option.isSome(args.jsonReport))
      yield* writeFile(args.jsonReport.value, JSON.stringify(report, null, 2) + "\n")
    if (Option.isSome(args.textReport)) yield* writeFile(args.textReport.value, text)
    if (args.json) yield* Console.log(JSON.stringify(report, null, 2))
    else yield* Console.log(text.trimEnd())
    if (report.exit_code !== 0 && !args.json)
      yield* Console.error(`relpub: ${report.errors.join("\n  ")}`)
    yield* setExitCode(report.exit_code)
  })

export const publishCommand = Command.make("publish", publishOptions, handler).pipe(
  Command.withDescription("Check a release against the policy and publish it, all or nothing")
)
