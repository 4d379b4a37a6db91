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
 * The mark `relpub yank` puts on an index entry: when the version was yanked
 * (the timestamp of its `yank` audit record) and why. The release itself is
 * never changed.
 *
 * @category models
 */
export const YankMark = Schema.Struct({
  at: Timestamp,
  reason: Schema.String
})
export type YankMark = typeof YankMark.Type

/**
 * One release in `index.json` (the original specification's index entry, plus
 * the hash of the release record it was made from, and `yanked` once the
 * version is yanked; indexes without it decode as before).
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
  release_record_sha256: Sha256Hex,
  yanked: Schema.optional(YankMark)
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
 * policy, chained to the previous record by its SHA-256. `repair`, `yank` and
 * `unyank` records are chained the same way (their keys name the event and a
 * fresh id).
 *
 * @category models
 */
export const AuditRecord = Schema.Struct({
  schema: Schema.Literal("relpub/audit/v1"),
  audit_id: Schema.String,
  sequence: Schema.Int,
  event: Schema.Literal("publish", "repair", "yank", "unyank"),
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
 * `.relpub/claims/<version>.json`: a publication in progress. Its publisher
 * renews the lease while it works (`renewed_at`). A claim is stale once its
 * lease has run out and a grace period has passed ({@link claimGraceMillis}),
 * or once its process is gone.
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
  renewed_at: Schema.optional(Timestamp),
  staging_prefix: Schema.String
})
export type Claim = typeof Claim.Type

/** The longest grace period after a lease runs out. */
export const MAX_CLAIM_GRACE_MILLIS = 60_000

/**
 * How long after its lease a claim stays untouchable: the lease's own length,
 * at most a minute. A publisher never starts a write after its lease; the
 * grace covers a request it gave up on that the server still completes.
 */
export const claimGraceMillis = (claim: Claim): number => {
  const from = Date.parse(claim.renewed_at ?? claim.created_at)
  const length = Date.parse(claim.lease_expires_at) - from
  return Math.min(Math.max(length, 0), MAX_CLAIM_GRACE_MILLIS)
}

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
  yankAuditRecord: (event: "yank" | "unyank", txid: string) => `audit/${event}-${txid}.audit.json`,
  yankAuditSignature: (event: "yank" | "unyank", txid: string) =>
    `audit/${event}-${txid}.audit.sig`,
  claim: (canonicalVersion: string) => `.relpub/claims/${canonicalVersion}.json`,
  claimsPrefix: ".relpub/claims/",
  stagingPrefix: (txid: string) => `.relpub/staging/${txid}/`,
  stagingRoot: ".relpub/staging/"
} as const

/** Encode a record as the exact bytes relpub stores (2-space JSON, trailing newline). */
export const encodeJson = (value: unknown): Uint8Array =>
  new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n")
