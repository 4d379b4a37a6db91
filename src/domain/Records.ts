import { Schema } from "effect"
import { ManifestFile, Sha256Hex } from "./Manifest.ts"
import { PolicyMode } from "./Policy.ts"

const Json = Schema.Record({ key: Schema.String, value: Schema.Unknown })
const Timestamp = Schema.String

/**
 * `releases/<version>/release.json`: the commit point of a publish. It lists
 * every published file with its SHA-256 and size; `sha256` is the SHA-256 of
 * the sorted `sha256sum` listing of those files.
 *
 * @category models
 */
export const ReleaseRecord = Schema.Struct({
  schema: Schema.Literal("relpub/release/v1"),
  version: Schema.String,
  published_at: Timestamp,
  sha256: Sha256Hex,
  size_bytes: Schema.Int,
  files: Schema.Array(ManifestFile),
  sbom_id: Schema.NullOr(Schema.String),
  slsa_id: Schema.NullOr(Schema.String),
  provenance_hash: Schema.NullOr(Sha256Hex),
  signed: Schema.Boolean,
  encrypted: Schema.Boolean,
  policy_mode: PolicyMode,
  verification: Schema.NullOr(Json),
  validation: Schema.NullOr(Json),
  transaction_id: Schema.String,
  signing_key_id: Schema.NullOr(Schema.String)
})
export type ReleaseRecord = typeof ReleaseRecord.Type

/**
 * One release in `index.json` (the original specification's index entry, plus
 * the hash of the release record it was made from).
 *
 * @category models
 */
export const IndexEntry = Schema.Struct({
  version: Schema.String,
  timestamp: Timestamp,
  sha256: Sha256Hex,
  size_bytes: Schema.Int,
  artifacts: Schema.Array(Schema.String),
  sbom_id: Schema.NullOr(Schema.String),
  slsa_id: Schema.NullOr(Schema.String),
  provenance_hash: Schema.NullOr(Sha256Hex),
  signed: Schema.Boolean,
  encrypted: Schema.Boolean,
  verification: Schema.NullOr(Json),
  validation: Schema.NullOr(Json),
  release_record_sha256: Sha256Hex
})
export type IndexEntry = typeof IndexEntry.Type

/** Pointer to the newest audit record: the head of the hash chain. */
export const AuditPointer = Schema.Struct({
  key: Schema.String,
  sha256: Sha256Hex,
  sequence: Schema.Int
})
export type AuditPointer = typeof AuditPointer.Type

/**
 * A signature over the RFC 8785 canonical JSON of the index without its
 * `signatures` member; `sig` is base64.
 *
 * @category models
 */
export const IndexSignature = Schema.Struct({
  keyid: Schema.String,
  algorithm: Schema.String,
  sig: Schema.String
})
export type IndexSignature = typeof IndexSignature.Type

/**
 * `index.json`: every published release, newest first. `serial` grows by one
 * with every change; `audit_head` is the newest audit record; with a signing
 * key, `signatures` sign the rest and `expires` bounds how long it is fresh.
 *
 * @category models
 */
export const RepositoryIndex = Schema.Struct({
  schema: Schema.optionalWith(Schema.Literal("relpub/index/v1"), {
    default: () => "relpub/index/v1" as const
  }),
  total_releases: Schema.Int,
  last_updated: Schema.NullOr(Timestamp),
  serial: Schema.optionalWith(Schema.Int, { default: () => 0 }),
  expires: Schema.optionalWith(Schema.NullOr(Timestamp), { default: () => null }),
  audit_head: Schema.optionalWith(Schema.NullOr(AuditPointer), { default: () => null }),
  releases: Schema.Array(IndexEntry),
  signatures: Schema.optionalWith(Schema.Array(IndexSignature), { default: () => [] })
})
export type RepositoryIndex = typeof RepositoryIndex.Type

export const emptyIndex: RepositoryIndex = {
  schema: "relpub/index/v1",
  total_releases: 0,
  last_updated: null,
  serial: 0,
  expires: null,
  audit_head: null,
  releases: [],
  signatures: []
}

/**
 * `audit/<version>.audit.json`: what was published, by whom and under which
 * policy, chained to the previous record by its SHA-256.
 *
 * @category models
 */
export const AuditRecord = Schema.Struct({
  schema: Schema.Literal("relpub/audit/v1"),
  audit_id: Schema.String,
  sequence: Schema.Int,
  event: Schema.Literal("publish", "repair"),
  version: Schema.String,
  timestamp: Timestamp,
  machine_id: Schema.String,
  previous: Schema.NullOr(AuditPointer),
  release_record_sha256: Schema.NullOr(Sha256Hex),
  metadata: Schema.Struct({
    sha256: Schema.NullOr(Sha256Hex),
    sbom_id: Schema.NullOr(Schema.String),
    slsa_id: Schema.NullOr(Schema.String),
    provenance_hash: Schema.NullOr(Sha256Hex),
    signed: Schema.Boolean,
    encrypted: Schema.Boolean
  }),
  verification: Schema.NullOr(Json),
  validation: Schema.NullOr(Json),
  publication: Schema.Struct({
    artifacts_published: Schema.Int,
    total_bytes: Schema.Int,
    repository_type: Schema.String,
    policy_mode: PolicyMode,
    transaction_id: Schema.String
  }),
  signing_key_id: Schema.NullOr(Schema.String),
  details: Schema.optional(Schema.String)
})
export type AuditRecord = typeof AuditRecord.Type

/**
 * `.relpub/claims/<version>.json`: a publication in progress. A claim whose
 * lease has passed, or whose process is gone, is stale.
 *
 * @category models
 */
export const Claim = Schema.Struct({
  schema: Schema.Literal("relpub/claim/v1"),
  version: Schema.String,
  transaction_id: Schema.String,
  host: Schema.String,
  pid: Schema.Int,
  created_at: Timestamp,
  lease_expires_at: Timestamp,
  staging_prefix: Schema.String
})
export type Claim = typeof Claim.Type

/** Keys of the repository layout (DESIGN.md, "Repository layout"). */
export const Keys = {
  index: "index.json",
  indexMarkdown: "index.md",
  releasePrefix: (version: string) => `releases/${version}/`,
  releaseFile: (version: string, path: string) => `releases/${version}/${path}`,
  releaseRecord: (version: string) => `releases/${version}/release.json`,
  releaseSignature: (version: string) => `releases/${version}/release.json.sig`,
  auditRecord: (version: string) => `audit/${version}.audit.json`,
  auditSignature: (version: string) => `audit/${version}.audit.sig`,
  repairAuditRecord: (txid: string) => `audit/repair-${txid}.audit.json`,
  repairAuditSignature: (txid: string) => `audit/repair-${txid}.audit.sig`,
  claim: (canonicalVersion: string) => `.relpub/claims/${canonicalVersion}.json`,
  claimsPrefix: ".relpub/claims/",
  stagingPrefix: (txid: string) => `.relpub/staging/${txid}/`,
  stagingRoot: ".relpub/staging/"
} as const

/** Encode a record as the exact bytes relpub stores (2-space JSON, trailing newline). */
export const encodeJson = (value: unknown): Uint8Array =>
  new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n")
