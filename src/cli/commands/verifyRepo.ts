import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { UsageError } from "../../domain/Errors.ts"
import { Repository } from "../../services/Repository.ts"
import type { RepoFinding, RepoReport } from "../../services/RepoVerifier.ts"
import { setExitCode } from "../exit.ts"
import { repositoryLayer, repositoryOptions } from "../repository.ts"

const verifyRepoOptions = {
  ...repositoryOptions,
  trustedKeys: Options.directory("trusted-keys", { exists: "yes" }).pipe(
    Options.withDescription("Directory of trusted PEM public keys (the repository signing keys)")
  ),
  state: Options.file("state").pipe(
    Options.withDescription(
      "File remembering the newest index seen per repository: an older one is reported as " +
        "rolled back"
    ),
    Options.optional
  ),
  json: Options.boolean("json").pipe(
    Options.withDescription("Print the JSON report (every finding) instead of the text")
  )
}

type VerifyRepoArgs = Command.Command.ParseConfig<typeof verifyRepoOptions>

/** The failing findings as a table: SUBJECT, CHECK, REASON, DETAIL. */
export const renderRepoFindings = (findings: ReadonlyArray<RepoFinding>): string => {
  const rows = [
    ["SUBJECT", "CHECK", "REASON", "DETAIL"],
    ...findings.map((f) => [f.subject, f.check, f.reason, f.detail])
  ]
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows
    .map((r) =>
      r
        .map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c))
        .join("  ")
        .trimEnd()
    )
    .join("\n")
}

const summary = (report: RepoReport): string => {
  const counts =
    `${report.releases} releases, ${report.artifacts} artifacts, ` +
    `${report.audit_records} audit records, index serial ${report.index?.serial ?? "-"}`
  const failures = report.findings.filter((f) => !f.ok).length
  return report.passed
    ? `verify-repo passed: ${report.repository} (${counts})`
    : `verify-repo failed, exit 30: ${failures} ${failures === 1 ? "problem" : "problems"} in ` +
        `${report.repository} (${counts})`
}

const handler = (args: VerifyRepoArgs) =>
  Effect.gen(function* () {
    // Trusted keys pull in openpgp: load them, and the verifier, only when verifying.
    const { loadTrustedKeys } = yield* Effect.promise(() => import("../../verify/TrustedKeys.ts"))
    const RepoVerifier = yield* Effect.promise(() => import("../../services/RepoVerifier.ts"))
    const keys = yield* loadTrustedKeys(args.trustedKeys).pipe(
      Effect.mapError((e) => new UsageError({ message: `--trusted-keys: ${e.message}` }))
    )
    if (keys.raw.length === 0) {
      return yield* new UsageError({
        message:
          `--trusted-keys ${args.trustedKeys} holds no PEM public key (repositories are signed ` +
          "with Ed25519, ECDSA P-256 or RSA keys)"
      })
    }
    const repo = yield* Repository
    const state = Option.isSome(args.state)
      ? yield* RepoVerifier.readState(args.state.value)
      : undefined
    const seen = state?.repositories[repo.location]
    const report = yield* RepoVerifier.verifyRepository({ keys: keys.raw, seen })

    if (args.json) {
      yield* Console.log(JSON.stringify(report, null, 2))
    } else {
      const failures = report.findings.filter((f) => !f.ok)
      if (failures.length > 0) yield* Console.log(renderRepoFindings(failures))
      yield* Console.log(summary(report))
    }
    // Only a repository that passed moves the remembered index forward.
    if (
      Option.isSome(args.state) &&
      state !== undefined &&
      report.passed &&
      report.index !== null
    ) {
      yield* RepoVerifier.writeState(
        args.state.value,
        RepoVerifier.remember(state, repo.location, report.index, report.checked_at)
      )
    }
    const first = report.findings.find((f) => !f.ok)
    if (first !== undefined)
      yield* Console.error(`relpub: ${first.subject}: ${first.reason}: ${first.detail}`)
    yield* setExitCode(report.exit_code)
  }).pipe(Effect.provide(repositoryLayer(args)))

/**
 * `relpub verify-repo`: check a repository's signed release records, artifacts,
 * index and audit chain (docs/verify-repo.md). Exit 0 when every check
 * passes, 30 on any integrity or signature failure, 36 on storage errors.
 *
 * @category commands
 */
export const verifyRepoCommand = Command.make("verify-repo", verifyRepoOptions, handler).pipe(
  Command.withDescription(
    "Verify a whole repository: release records and their signatures, every artifact's " +
      "SHA-256 and size, the signed index (expiry, rollback) and the audit hash chain. " +
      "Exit 0 ok, 30 integrity, 36 storage"
  )
)
