import { Schema } from "effect"

/**
 * The verification result a pipeline hands to `publish` (`--verification-result`),
 * and that `relpub verify` writes. Only `passed` decides; the other fields are
 * carried into the report and the release record. Unknown fields are kept.
 *
 * @category models
 */
export const VerificationResult = Schema.Struct(
  {
    passed: Schema.Boolean,
    timestamp: Schema.optional(Schema.String),
    hash_verified: Schema.optional(Schema.Boolean),
    signature_verified: Schema.optional(Schema.Boolean),
    sbom_validated: Schema.optional(Schema.Boolean),
    slsa_validated: Schema.optional(Schema.Boolean),
    policy_passed: Schema.optional(Schema.Boolean),
    exit_code: Schema.optional(Schema.Int)
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)
export type VerificationResult = typeof VerificationResult.Type

/**
 * The post-release validation result (`--validation-result`). Only `passed`
 * decides.
 *
 * @category models
 */
export const ValidationResult = Schema.Struct(
  {
    passed: Schema.Boolean,
    timestamp: Schema.optional(Schema.String),
    sbom_delta_passed: Schema.optional(Schema.Boolean),
    slsa_delta_passed: Schema.optional(Schema.Boolean),
    api_compat_passed: Schema.optional(Schema.Boolean),
    performance_passed: Schema.optional(Schema.Boolean),
    security_passed: Schema.optional(Schema.Boolean),
    behavioral_passed: Schema.optional(Schema.Boolean),
    exit_code: Schema.optional(Schema.Int)
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)
export type ValidationResult = typeof ValidationResult.Type
