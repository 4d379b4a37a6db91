/**
 * Exit codes of relpub. CI pipelines branch on these numbers, so they never
 * change meaning (DESIGN.md, "Policy").
 *
 * @category models
 */
export const ExitCode = {
  Success: 0,
  Usage: 2,
  VerificationFailed: 30,
  ValidationFailed: 31,
  VersionExists: 32,
  MetadataMissing: 33,
  SignatureRequired: 34,
  EncryptionRequired: 35,
  RepositoryFailed: 36,
  PublishRolledBack: 37,
  PolicyViolation: 38,
  Unexpected: 39
} as const

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/** One line per code, as `relpub --help` and docs/exit-codes.md show them. */
export const exitCodeMeaning: Readonly<Record<ExitCode, string>> = {
  0: "published (or, with --dry-run, would publish)",
  2: "wrong command line",
  30: "verification failed: result missing or not passed, hash mismatch, invalid signature",
  31: "validation result missing or not passed",
  32: "version already published, or being published by another job",
  33: "manifest or required metadata missing or inconsistent",
  34: "signatures required but missing",
  35: "encrypted files required but missing",
  36: "repository unreachable or failing",
  37: "staging or promotion failed; the attempt was rolled back",
  38: "a rule of the policy file was violated",
  39: "unexpected error"
}
