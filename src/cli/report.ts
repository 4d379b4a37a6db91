import { Cause, Exit } from "effect"
import { exitCodeOf, type PublishError } from "../domain/Errors.ts"
import { ExitCode } from "../domain/ExitCode.ts"
import type { Violation } from "../domain/Policy.ts"
import { type PublicationReport, violationJson } from "../domain/Report.ts"
import type { PublishOutcome, PublishRequest } from "../services/Publisher.ts"

export interface ReportContext {
  readonly request: PublishRequest
  readonly repositoryType: string
  readonly repositoryLocation: string
  readonly startedAt: number
  readonly finishedAt: number
}

const passedCheck = (violations: ReadonlyArray<Violation>, check: Violation["check"]) =>
  !violations.some((v) => v.check === check)

/** Build the publication report from how the publish ended. */
export const buildReport = (
  ctx: ReportContext,
  exit: Exit.Exit<PublishOutcome, PublishError>
): PublicationReport => {
  const base = {
    version: ctx.request.version,
    timestamp: new Date(ctx.finishedAt).toISOString(),
    repository_type: ctx.repositoryType,
    repository_location: ctx.repositoryLocation,
    policy_mode: ctx.request.policy.mode,
    publication_duration_seconds: (ctx.finishedAt - ctx.startedAt) / 1000
  }
  if (Exit.isSuccess(exit)) {
    const o = exit.value
    const { decision, evaluation, release } = o.inspection
    const all = [...decision.warnings]
    const validation = release.facts.validation
    const files = o.record?.files ?? release.files.map((f) => ({ path: f.path, size: f.size }))
    const dry = o.status === "dry-run"
    return {
      ...base,
      status: dry ? "dry-run" : "success",
      verification_passed: passedCheck(all, "verification") && passedCheck(all, "manifest"),
      validation_passed: validation._tag === "Valid" && validation.result.passed,
      metadata_complete: passedCheck(all, "metadata") && evaluation.notes.length === 0,
      signatures_present: release.metadata.signed,
      artifacts_published: dry ? [] : files.map((f) => f.path),
      total_size_bytes: files.reduce((n, f) => n + f.size, 0),
      index_updated: o.indexUpdated,
      audit_log_created: o.auditWritten,
      audit_log_signed: o.auditSigned,
      release_sha256: o.record?.sha256 ?? null,
      transaction_id: o.transactionId ?? null,
      warnings: [...decision.warnings.map((v) => v.message), ...evaluation.notes],
      errors: [],
      violations: decision.warnings.map(violationJson),
      exit_code: ExitCode.Success,
      summary: dry
        ? `dry run: ${ctx.request.version} would be published (${files.length} files)`
        : `published ${ctx.request.version}: ${files.length} files, release sha256 ` +
          `${o.record?.sha256}`
    }
  }
  const failure = Cause.failureOption(exit.cause)
  const interrupted = Cause.isInterruptedOnly(exit.cause)
  const error = failure._tag === "Some" ? failure.value : undefined
  const violations = error?._tag === "PolicyRejected" ? error.violations : []
  const warnings = error?._tag === "PolicyRejected" ? error.warnings : []
  const code = error !== undefined ? exitCodeOf(error) : interrupted ? 130 : ExitCode.Unexpected
  const messages =
    error !== undefined
      ? violations.length > 0
        ? violations.map((v) => v.message)
        : [error.message]
      : [interrupted ? "interrupted; the attempt was rolled back" : Cause.pretty(exit.cause)]
  return {
    ...base,
    status: "failed",
    verification_passed:
      error !== undefined &&
      error._tag === "PolicyRejected" &&
      passedCheck([...violations, ...warnings], "verification") &&
      passedCheck(violations, "manifest"),
    validation_passed:
      error !== undefined &&
      error._tag === "PolicyRejected" &&
      passedCheck([...violations, ...warnings], "validation"),
    metadata_complete:
      error !== undefined &&
      error._tag === "PolicyRejected" &&
      passedCheck([...violations, ...warnings], "metadata") &&
      passedCheck(violations, "manifest"),
    signatures_present: false,
    artifacts_published: [],
    total_size_bytes: 0,
    index_updated: false,
    audit_log_created: false,
    audit_log_signed: false,
    release_sha256: null,
    transaction_id: null,
    warnings: warnings.map((v) => v.message),
    errors: messages,
    violations: [...violations, ...warnings].map(violationJson),
    exit_code: code,
    summary: `not published: ${messages[0] ?? "unknown error"}`
  }
}
