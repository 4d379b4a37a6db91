import { createHash } from "node:crypto"
import { Schema } from "effect"

/**
 * What a finding is about: a file's digest, a signature over it, an SBOM, a
 * provenance statement, or the claim that a file is age-encrypted.
 *
 * @category models
 */
export const Check = Schema.Literal("hash", "signature", "sbom", "provenance", "encryption")
export type Check = typeof Check.Type

/**
 * The closed vocabulary of verification outcomes. Callers branch on these,
 * never on `detail`.
 *
 * @category models
 */
export const Reason = Schema.Literal(
  "valid",
  "bad-signature",
  "unknown-key",
  "unsigned",
  "digest-mismatch",
  "identity-mismatch",
  "unsupported-format",
  "malformed",
  "schema-invalid",
  "subject-missing",
  "builder-mismatch",
  "source-mismatch",
  "not-age"
)
export type Reason = typeof Reason.Type

/**
 * One verdict of one verifier about one file. `key` names the trusted key that
 * verified (or the one that was tried) by id, fingerprint or file name.
 *
 * @category models
 */
export const Finding = Schema.Struct({
  file: Schema.String,
  check: Check,
  ok: Schema.Boolean,
  reason: Reason,
  key: Schema.optional(Schema.String),
  detail: Schema.String
})
export type Finding = typeof Finding.Type

/** @category constructors */
export const valid = (file: string, check: Check, detail: string, key?: string): Finding =>
  key === undefined
    ? { file, check, ok: true, reason: "valid", detail }
    : { file, check, ok: true, reason: "valid", key, detail }

/** @category constructors */
export const invalid = (
  file: string,
  check: Check,
  reason: Exclude<Reason, "valid">,
  detail: string,
  key?: string
): Finding =>
  key === undefined
    ? { file, check, ok: false, reason, detail }
    : { file, check, ok: false, reason, key, detail }

/** True when every finding passed (and there is at least one). */
export const allOk = (findings: ReadonlyArray<Finding>): boolean =>
  findings.length > 0 && findings.every((f) => f.ok)

/**
 * An input could not be read as the format it claims to be. Parsers fail with
 * it; the verifiers turn it into a failing {@link Finding} with the same reason.
 *
 * @category errors
 */
export class FormatError extends Schema.TaggedError<FormatError>()("FormatError", {
  format: Schema.String,
  reason: Schema.Literal("malformed", "unsupported-format", "schema-invalid", "not-age"),
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.format}: ${this.reason}: ${this.detail}`
  }
}

/** Turns a parse failure into the finding a report shows. */
export const fromFormatError = (file: string, check: Check, e: FormatError): Finding =>
  invalid(file, check, e.reason, `${file}: ${e.format} ${e.reason}: ${e.detail}`)

/**
 * A file named for verification could not be read.
 *
 * @category errors
 */
export class VerifyIoError extends Schema.TaggedError<VerifyIoError>()("VerifyIoError", {
  path: Schema.String,
  cause: Schema.Defect
}) {
  override get message(): string {
    return `cannot read ${this.path}: ${String(this.cause)}`
  }
}

/** Hex SHA-256 of some bytes. */
export const sha256Hex = (bytes: Uint8Array): string =>
  createHash("sha256").update(bytes).digest("hex")
