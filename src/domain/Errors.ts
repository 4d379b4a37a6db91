import { Data } from "effect"
import { ExitCode } from "./ExitCode.ts"
import type { Violation } from "./Policy.ts"

/**
 * The command line or an input named on it is wrong (exit 2).
 *
 * @category errors
 */
export class UsageError extends Data.TaggedError("UsageError")<{
  readonly message: string
}> {}

/**
 * The release broke the publication policy; `violations` lists every failure
 * in check order, and the exit code is that of the first.
 *
 * @category errors
 */
export class PolicyRejected extends Data.TaggedError("PolicyRejected")<{
  readonly violations: ReadonlyArray<Violation>
  readonly warnings: ReadonlyArray<Violation>
}> {
  get exitCode(): ExitCode {
    return this.violations[0]?.exitCode ?? ExitCode.PolicyViolation
  }
  override get message(): string {
    return this.violations.map((v) => v.message).join("; ")
  }
}

/**
 * The version is published already, or another publisher holds its claim.
 *
 * @category errors
 */
export class VersionExists extends Data.TaggedError("VersionExists")<{
  readonly version: string
  readonly reason: "published" | "claimed"
  readonly detail: string
}> {
  override get message(): string {
    return this.reason === "published"
      ? `version ${this.version} is already published (${this.detail})`
      : `version ${this.version} is being published by another job (${this.detail})`
  }
}

/** What a storage operation was doing when it failed. */
export type StorageOperation =
  | "read"
  | "write"
  | "create"
  | "swap"
  | "delete"
  | "list"
  | "upload"
  | "promote"
  | "lock"
  | "probe"

/**
 * The repository failed: unreachable, refused, or out of space (exit 36).
 * `retryable` marks transient failures (timeouts, throttling, 5xx, resets).
 *
 * @category errors
 */
export class StorageError extends Data.TaggedError("StorageError")<{
  readonly operation: StorageOperation
  readonly key: string
  readonly detail: string
  readonly retryable: boolean
  readonly cause?: unknown
}> {
  override get message(): string {
    return `repository ${this.operation} of ${this.key} failed: ${this.detail}`
  }
}

/** A create-only write found the key present. */
export class AlreadyExists extends Data.TaggedError("AlreadyExists")<{
  readonly key: string
}> {}

/** A compare-and-swap lost: the object changed since it was read. */
export class PreconditionFailed extends Data.TaggedError("PreconditionFailed")<{
  readonly key: string
}> {}

/**
 * Staging or promotion failed and the attempt was rolled back (exit 37).
 *
 * @category errors
 */
export class RolledBack extends Data.TaggedError("RolledBack")<{
  readonly step: "stage" | "verify-staged" | "promote" | "verify-promoted" | "commit"
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `publish rolled back during ${this.step}: ${this.detail}`
  }
}

/**
 * A key file could not be read or used for signing.
 *
 * @category errors
 */
export class KeyError extends Data.TaggedError("KeyError")<{
  readonly file: string
  readonly detail: string
}> {
  override get message(): string {
    return `${this.file}: ${this.detail}`
  }
}

/**
 * Something relpub cannot classify went wrong (exit 39).
 *
 * @category errors
 */
export class Unexpected extends Data.TaggedError("Unexpected")<{
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return this.detail
  }
}

export type PublishError =
  | UsageError
  | PolicyRejected
  | VersionExists
  | StorageError
  | RolledBack
  | KeyError
  | Unexpected

/** The one place typed errors become exit codes. */
export const exitCodeOf = (error: PublishError): ExitCode => {
  switch (error._tag) {
    case "UsageError":
    case "KeyError":
      return ExitCode.Usage
    case "PolicyRejected":
      return error.exitCode
    case "VersionExists":
      return ExitCode.VersionExists
    case "StorageError":
      return ExitCode.RepositoryFailed
    case "RolledBack":
      return ExitCode.PublishRolledBack
    case "Unexpected":
      return ExitCode.Unexpected
  }
}
