import { Schema } from "effect"
import { exitCodeMeaning, type ExitCode } from "./ExitCode.ts"
import type { Violation } from "./Policy.ts"

const ViolationJson = Schema.Struct({
  check: Schema.String,
  exit_code: Schema.Int,
  severity: Schema.Literal("refuse", "policy"),
  file: Schema.NullOr(Schema.String),
  message: Schema.String
})

/**
 * The outcome of one `relpub publish`, written by `--json-report` and
 * `--text-report`. Field names follow the original specification.
 *
 * @category models
 */
export const PublicationReport = Schema.Struct({
  version: Schema.String,
  status: Schema.Literal("success", "failed", "dry-run"),
  timestamp: Schema.String,
  repository_type: Schema.String,
  repository_location: Schema.String,
  policy_mode: Schema.String,
  verification_passed: Schema.Boolean,
  validation_passed: Schema.Boolean,
  metadata_complete: Schema.Boolean,
  signatures_present: Schema.Boolean,
  artifacts_published: Schema.Array(Schema.String),
  total_size_bytes: Schema.Int,
  publication_duration_seconds: Schema.Number.pipe(Schema.finite()),
  index_updated: Schema.Boolean,
  audit_log_created: Schema.Boolean,
  audit_log_signed: Schema.Boolean,
  release_sha256: Schema.NullOr(Schema.String),
  transaction_id: Schema.NullOr(Schema.String),
  warnings: Schema.Array(Schema.String),
  errors: Schema.Array(Schema.String),
  violations: Schema.Array(ViolationJson),
  exit_code: Schema.Int,
  summary: Schema.String
})
export type PublicationReport = typeof PublicationReport.Type

export const violationJson = (v: Violation): typeof ViolationJson.Type => ({
  check: v.check,
  exit_code: v.exitCode,
  severity: v.severity,
  file: v.file ?? null,
  message: v.message
})

const yesNo = (b: boolean) => (b ? "yes" : "no")

const auditState = (r: PublicationReport) =>
  !r.audit_log_created ? "no" : r.audit_log_signed ? "written, signed" : "written, unsigned"

/** The text report: what a person reads in a CI log. */
export const renderTextReport = (r: PublicationReport): string => {
  const lines = [
    `relpub publication report`,
    `  version             ${r.version}`,
    `  status              ${r.status}`,
    `  exit code           ${r.exit_code} ` +
      `(${exitCodeMeaning[r.exit_code as ExitCode] ?? "unknown"})`,
    `  timestamp           ${r.timestamp}`,
    `  repository          ${r.repository_type} ${r.repository_location}`,
    `  policy              ${r.policy_mode}`,
    `  verification passed ${yesNo(r.verification_passed)}`,
    `  validation passed   ${yesNo(r.validation_passed)}`,
    `  metadata complete   ${yesNo(r.metadata_complete)}`,
    `  signatures present  ${yesNo(r.signatures_present)}`,
    `  artifacts           ${r.artifacts_published.length} (${r.total_size_bytes} bytes)`,
    `  release sha256      ${r.release_sha256 ?? "-"}`,
    `  index updated       ${yesNo(r.index_updated)}`,
    `  audit record        ${auditState(r)}`,
    `  duration            ${r.publication_duration_seconds.toFixed(3)} s`
  ]
  if (r.errors.length > 0) lines.push("errors:", ...r.errors.map((e) => `  - ${e}`))
  if (r.warnings.length > 0) lines.push("warnings:", ...r.warnings.map((w) => `  - ${w}`))
  lines.push(r.summary)
  return lines.join("\n") + "\n"
}
