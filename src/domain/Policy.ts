import { Schema } from "effect"
import { ExitCode } from "./ExitCode.ts"

/**
 * The checks of the publication policy, in the order DESIGN.md gives them. The
 * exit code of a failed publish is that of the first violation in this order.
 *
 * @category models
 */
export const CHECKS = [
  "verification",
  "validation",
  "manifest",
  "signatures",
  "encryption",
  "metadata",
  "rules"
] as const
export type Check = (typeof CHECKS)[number]

/**
 * A broken rule. `refuse` violations are unsafe or inconsistent input and fail
 * in every mode; `policy` violations become warnings under the lenient policy.
 *
 * @category models
 */
export interface Violation {
  readonly check: Check
  readonly exitCode: ExitCode
  readonly severity: "refuse" | "policy"
  /** The file the violation is about, relative to the release directory, if any. */
  readonly file: string | undefined
  readonly message: string
}

export const violation = (
  check: Check,
  exitCode: ExitCode,
  severity: Violation["severity"],
  file: string | undefined,
  message: string
): Violation => ({ check, exitCode, severity, file, message })

export const PolicyMode = Schema.Literal("strict", "lenient")
export type PolicyMode = typeof PolicyMode.Type

const Bytes = Schema.Int.pipe(Schema.positive())

/**
 * A policy file (`--policy-file`). Every field is optional; command-line flags
 * override it. Sizes are in bytes.
 *
 * @category models
 */
export const PolicyFile = Schema.Struct({
  mode: Schema.optional(PolicyMode),
  require_verification_result: Schema.optional(Schema.Boolean),
  require_validation: Schema.optional(Schema.Boolean),
  require_signatures: Schema.optional(Schema.Boolean),
  require_encryption: Schema.optional(Schema.Boolean),
  require_sbom: Schema.optional(Schema.Boolean),
  require_provenance: Schema.optional(Schema.Boolean),
  max_files: Schema.optional(Bytes),
  max_file_bytes: Schema.optional(Bytes),
  max_release_bytes: Schema.optional(Bytes),
  forbidden_extensions: Schema.optional(Schema.Array(Schema.String)),
  trusted_keys: Schema.optional(Schema.String)
})
export type PolicyFile = typeof PolicyFile.Type

/** The effective policy of one publish. */
export interface Policy {
  readonly mode: PolicyMode
  readonly requireVerificationResult: boolean
  readonly requireValidation: boolean
  readonly requireSignatures: boolean
  readonly requireEncryption: boolean
  readonly requireSbom: boolean
  readonly requireProvenance: boolean
  readonly maxFiles: number | undefined
  readonly maxFileBytes: number | undefined
  readonly maxReleaseBytes: number | undefined
  readonly forbiddenExtensions: ReadonlyArray<string>
}

export const defaultPolicy = (mode: PolicyMode = "strict"): Policy => ({
  mode,
  requireVerificationResult: false,
  // Lenient turns a missing result into a warning rather than dropping the check.
  requireValidation: true,
  requireSignatures: false,
  requireEncryption: false,
  requireSbom: false,
  requireProvenance: false,
  maxFiles: undefined,
  maxFileBytes: undefined,
  maxReleaseBytes: undefined,
  forbiddenExtensions: []
})

/**
 * Merge a policy file with the command line: `--policy` wins; requirement flags can only add
 * requirements.
 */
export const resolvePolicy = (
  file: PolicyFile | undefined,
  flags: {
    readonly mode?: PolicyMode | undefined
    readonly requireSignatures?: boolean | undefined
    readonly requireEncryption?: boolean | undefined
  }
): Policy => {
  const mode = flags.mode ?? file?.mode ?? "strict"
  const base = defaultPolicy(mode)
  return {
    mode,
    requireVerificationResult: file?.require_verification_result ?? base.requireVerificationResult,
    requireValidation: file?.require_validation ?? base.requireValidation,
    requireSignatures: flags.requireSignatures === true || (file?.require_signatures ?? false),
    requireEncryption: flags.requireEncryption === true || (file?.require_encryption ?? false),
    requireSbom: file?.require_sbom ?? false,
    requireProvenance: file?.require_provenance ?? false,
    maxFiles: file?.max_files,
    maxFileBytes: file?.max_file_bytes,
    maxReleaseBytes: file?.max_release_bytes,
    forbiddenExtensions: file?.forbidden_extensions ?? []
  }
}

/** Violations sorted by check order (stable within a check). */
export const sortViolations = (vs: ReadonlyArray<Violation>): ReadonlyArray<Violation> =>
  vs
    .map((v, i) => ({ v, i }))
    .sort((a, b) => CHECKS.indexOf(a.v.check) - CHECKS.indexOf(b.v.check) || a.i - b.i)
    .map(({ v }) => v)

/**
 * The decision on a release: the violations that fail it under `policy`, and
 * those that only warn.
 */
export interface Decision {
  readonly failures: ReadonlyArray<Violation>
  readonly warnings: ReadonlyArray<Violation>
  readonly exitCode: ExitCode
}

export const decide = (policy: Policy, violations: ReadonlyArray<Violation>): Decision => {
  const sorted = sortViolations(violations)
  const failures = sorted.filter((v) => v.severity === "refuse" || policy.mode === "strict")
  const warnings = sorted.filter((v) => !failures.includes(v))
  return {
    failures,
    warnings,
    exitCode: failures.length === 0 ? ExitCode.Success : failures[0]!.exitCode
  }
}
