import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as os from "node:os"
import * as nodePath from "node:path"
import { Clock, Effect, Either, Option, Schema } from "effect"
import { canonicalize } from "json-canonicalize"
import { describePathProblem, pathProblem } from "../domain/ArtifactPath.ts"
import { UsageError } from "../domain/Errors.ts"
import { formatSha256Sums, type ManifestFile } from "../domain/Manifest.ts"
import {
  AuditPointer,
  AuditRecord,
  Keys,
  ReleaseRecord,
  RepositoryIndex
} from "../domain/Records.ts"
import { canonicalVersion } from "../domain/Version.ts"
import { sha256Hex } from "../verify/Finding.ts"
import { verifyWithKey } from "../verify/RawSignature.ts"
import type { RawPublicKey } from "../verify/TrustedKeys.ts"
import { type ObjectInfo, Repository, type RepositoryShape } from "./Repository.ts"

/**
 * What a verify-repo finding is about (docs/verify-repo.md, "Findings").
 *
 * @category models
 */
export const RepoCheck = Schema.Literal(
  "record", // release.json decodes and names its own version
  "signature", // detached signature of a release record, audit record or the index
  "release-hash", // the record's sha256 and size_bytes against its file list
  "artifact", // a published file against its release record
  "contents", // no object under releases/<v>/ the record does not list
  "index", // index.json decodes and is consistent with itself
  "index-entry", // index entries against release records, both ways
  "audit-chain", // the hash chain from audit_head back to sequence 1
  "freshness" // expiry and rollback of the index
)
export type RepoCheck = typeof RepoCheck.Type

/**
 * The closed vocabulary of verify-repo outcomes. Callers and tests branch on
 * these, never on `detail`.
 *
 * @category models
 */
export const RepoReason = Schema.Literal(
  "valid",
  "in-progress",
  "missing",
  "malformed",
  "version-mismatch",
  "unsafe-path",
  "unsigned",
  "unknown-key",
  "bad-signature",
  "digest-mismatch",
  "size-mismatch",
  "unlisted",
  "entry-mismatch",
  "not-indexed",
  "expired",
  "rolled-back",
  "forked",
  "sequence-mismatch",
  "outside-chain"
)
export type RepoReason = typeof RepoReason.Type

/** @category models */
export const RepoFinding = Schema.Struct({
  subject: Schema.String,
  check: RepoCheck,
  ok: Schema.Boolean,
  reason: RepoReason,
  detail: Schema.String
})
export type RepoFinding = typeof RepoFinding.Type

const pass = (
  subject: string,
  check: RepoCheck,
  detail: string,
  reason: RepoReason = "valid"
): RepoFinding => ({ subject, check, ok: true, reason, detail })
const fail = (
  subject: string,
  check: RepoCheck,
  reason: Exclude<RepoReason, "valid">,
  detail: string
): RepoFinding => ({ subject, check, ok: false, reason, detail })

/** The index a verifier saw last time: rollback protection across runs (`--state`). */
export interface SeenIndex {
  readonly serial: number
  readonly audit_head: AuditPointer | null
}

/**
 * The result of `verifyRepository`: every finding, passing ones included.
 *
 * @category models
 */
export interface RepoReport {
  readonly schema: "relpub/verify-repo/v1"
  readonly repository: string
  readonly checked_at: string
  readonly passed: boolean
  readonly exit_code: 0 | 30
  readonly releases: number
  readonly artifacts: number
  readonly audit_records: number
  /** The index verified (null when there is none); what `--state` remembers. */
  readonly index: SeenIndex | null
  readonly findings: ReadonlyArray<RepoFinding>
}

// Artifacts up to this size are read whole; larger ones are downloaded to a
// temporary file, hashed by the backend while written, and deleted.
const READ_WHOLE_MAX_BYTES = 4 * 1024 * 1024
const ARTIFACT_CONCURRENCY = 4

/**
 * Checks a detached signature over `bytes`. `keyId` is the SHA-256 of the
 * signer's SPKI DER as the signed record names it; with none, every trusted
 * key is tried.
 */
export const checkSignature = (
  subject: string,
  bytes: Uint8Array,
  signature: Option.Option<Uint8Array>,
  keyId: string | null,
  keys: ReadonlyArray<RawPublicKey>
): RepoFinding => {
  if (Option.isNone(signature))
    return fail(subject, "signature", "unsigned", `${subject} has no signature`)
  const candidates = keyId === null ? keys : keys.filter((k) => matchesKeyId(k, keyId))
  if (candidates.length === 0) {
    return fail(
      subject,
      "signature",
      "unknown-key",
      keyId === null
        ? `${subject} names no signing key and no trusted key is loaded`
        : `${subject} is signed by key ${keyId}, which is not a trusted key`
    )
  }
  const key = candidates.find((k) => verifyWithKey(k, bytes, signature.value))
  if (key !== undefined)
    return pass(subject, "signature", `${key.algorithm} signature by ${key.id} (${key.file})`)
  return keyId === null
    ? fail(
        subject,
        "signature",
        "unknown-key",
        `${subject} names no signing key and no trusted key verifies it`
      )
    : fail(
        subject,
        "signature",
        "bad-signature",
        `${subject}: signature does not verify with trusted key ${keyId}`
      )
}

const matchesKeyId = (key: RawPublicKey, keyId: string) =>
  key.fingerprint === keyId.toLowerCase() || key.id === keyId.toLowerCase()

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
const parseJson = (bytes: Uint8Array): Either.Either<unknown, string> =>
  Either.try({ try: () => JSON.parse(text(bytes)) as unknown, catch: (e) => (e as Error).message })
const decodeWith =
  <A, I>(schema: Schema.Schema<A, I>) =>
  (raw: unknown) =>
    Schema.decodeUnknownEither(schema)(raw).pipe(Either.mapLeft((e) => e.message))

/** Decodes a stored release record. */
export const decodeReleaseRecord = (bytes: Uint8Array) =>
  Either.flatMap(parseJson(bytes), decodeWith(ReleaseRecord))

/** The problems with a record's file list as paths: unsafe, or listed twice. */
export const unsafePaths = (files: ReadonlyArray<ManifestFile>): ReadonlyArray<string> => {
  const seen = new Set<string>()
  return files.flatMap((f) => {
    const problem = pathProblem(f.path)
    const twice = seen.has(f.path)
    seen.add(f.path)
    return problem !== undefined
      ? [`${JSON.stringify(f.path)}: ${describePathProblem(problem)}`]
      : twice
        ? [`${JSON.stringify(f.path)} is listed twice`]
        : []
  })
}

/** `sha256` and `size_bytes` of a record against its files (the sorted `sha256sum` listing). */
export const releaseHashProblem = (record: ReleaseRecord): string | undefined => {
  const sha = sha256Hex(new TextEncoder().encode(formatSha256Sums(record.files)))
  const size = record.files.reduce((n, f) => n + f.size, 0)
  return sha !== record.sha256
    ? `the files hash to ${sha}, the record says ${record.sha256}`
    : size !== record.size_bytes
      ? `the files add up to ${size} bytes, the record says ${record.size_bytes}`
      : undefined
}

/** Digest of one stored object: read whole when small, else downloaded to `scratch` and deleted. */
export const digestOf = (repo: RepositoryShape, info: ObjectInfo, scratch: string, n: number) =>
  info.size <= READ_WHOLE_MAX_BYTES
    ? Effect.map(
        repo.read(info.key),
        Option.map((o) => ({ sha256: sha256Hex(o.bytes), size: o.bytes.length }))
      )
    : Effect.acquireUseRelease(
        Effect.succeed(nodePath.join(scratch, `object-${n}`)),
        (file) => Effect.map(repo.download(info.key, file), Option.some),
        (file) => Effect.promise(() => fsp.rm(file, { force: true }))
      )

const scratchDir = Effect.acquireRelease(
  Effect.promise(() => fsp.mkdtemp(nodePath.join(os.tmpdir(), "relpub-verify-repo-"))),
  (dir) => Effect.promise(() => fsp.rm(dir, { recursive: true, force: true }))
)

/** A release directory as verify-repo found it. */
interface CheckedRelease {
  readonly version: string
  readonly recordSha256: string | undefined
  readonly record: ReleaseRecord | undefined
}

const checkRelease = (
  repo: RepositoryShape,
  version: string,
  objects: ReadonlyArray<ObjectInfo>,
  keys: ReadonlyArray<RawPublicKey>,
  claimed: boolean,
  scratch: string,
  counter: { n: number }
) =>
  Effect.gen(function* () {
    const out: Array<RepoFinding> = []
    const recordKey = Keys.releaseRecord(version)
    const stored = objects.some((o) => o.key === recordKey)
      ? yield* repo.read(recordKey)
      : Option.none()
    if (Option.isNone(stored)) {
      out.push(
        claimed
          ? pass(
              Keys.releasePrefix(version),
              "contents",
              "publish in progress (claimed)",
              "in-progress"
            )
          : fail(
              Keys.releasePrefix(version),
              "contents",
              "unlisted",
              `${objects.length} objects but no release record: an interrupted publish (relpub ` +
                `repair removes it)`
            )
      )
      return {
        release: { version, recordSha256: undefined, record: undefined },
        findings: out,
        artifacts: 0
      }
    }
    const bytes = stored.value.bytes
    const recordSha256 = sha256Hex(bytes)
    const signature = Option.map(yield* repo.read(Keys.releaseSignature(version)), (o) => o.bytes)
    const decoded = decodeReleaseRecord(bytes)
    if (Either.isLeft(decoded)) {
      out.push(
        fail(recordKey, "record", "malformed", `${recordKey} cannot be decoded: ${decoded.left}`)
      )
      out.push(checkSignature(recordKey, bytes, signature, null, keys))
      return { release: { version, recordSha256, record: undefined }, findings: out, artifacts: 0 }
    }
    const record = decoded.right
    out.push(checkSignature(recordKey, bytes, signature, record.signing_key_id, keys))
    out.push(
      record.version === version
        ? pass(recordKey, "record", `release record of ${version}, ${record.files.length} files`)
        : fail(
            recordKey,
            "record",
            "version-mismatch",
            `${recordKey} is the record of ${record.version}`
          )
    )
    const hashProblem = releaseHashProblem(record)
    out.push(
      hashProblem === undefined
        ? pass(recordKey, "release-hash", `release hash ${record.sha256}`)
        : fail(recordKey, "release-hash", "digest-mismatch", `${recordKey}: ${hashProblem}`)
    )

    const listed = new Map(objects.map((o) => [o.key, o]))
    const unsafe = unsafePaths(record.files)
    if (unsafe.length > 0) {
      out.push(...unsafe.map((p) => fail(recordKey, "record", "unsafe-path", `${recordKey}: ${p}`)))
      return { release: { version, recordSha256, record }, findings: out, artifacts: 0 }
    }
    const artifacts = yield* Effect.forEach(
      record.files,
      (file) =>
        checkArtifact(
          repo,
          Keys.releaseFile(version, file.path),
          file,
          listed.get(Keys.releaseFile(version, file.path)),
          scratch,
          ++counter.n
        ),
      { concurrency: ARTIFACT_CONCURRENCY }
    )
    out.push(...artifacts)

    const expected = new Set([
      recordKey,
      Keys.releaseSignature(version),
      ...record.files.map((f) => Keys.releaseFile(version, f.path))
    ])
    const extra = objects.filter((o) => !expected.has(o.key))
    out.push(
      ...extra.map((o) =>
        fail(o.key, "contents", "unlisted", `${o.key} is not listed in ${recordKey}`)
      )
    )
    if (extra.length === 0)
      out.push(pass(Keys.releasePrefix(version), "contents", "no unlisted objects"))
    return {
      release: { version, recordSha256, record },
      findings: out,
      artifacts: record.files.length
    }
  })

const checkArtifact = (
  repo: RepositoryShape,
  key: string,
  file: ManifestFile,
  info: ObjectInfo | undefined,
  scratch: string,
  n: number
) =>
  Effect.gen(function* () {
    if (info === undefined) return fail(key, "artifact", "missing", `${key} is missing`)
    if (info.size !== file.size) {
      return fail(
        key,
        "artifact",
        "size-mismatch",
        `${key} has ${info.size} bytes, the record says ${file.size}`
      )
    }
    const got = yield* digestOf(repo, info, scratch, n)
    if (Option.isNone(got)) return fail(key, "artifact", "missing", `${key} is missing`)
    const { sha256, size } = got.value
    return size !== file.size
      ? fail(
          key,
          "artifact",
          "size-mismatch",
          `${key} has ${size} bytes, the record says ${file.size}`
        )
      : sha256 !== file.sha256
        ? fail(
            key,
            "artifact",
            "digest-mismatch",
            `${key} has SHA-256 ${sha256}, the record says ${file.sha256}`
          )
        : pass(key, "artifact", `SHA-256 ${sha256}, ${size} bytes`)
  })

/**
 * The bytes an index signature covers: RFC 8785 canonical JSON of the index without `signatures`.
 */
export const indexSignedBytes = (raw: Record<string, unknown>): Uint8Array => {
  const { signatures: _signatures, ...rest } = raw
  return new TextEncoder().encode(canonicalize(rest))
}

const checkIndexSignature = (
  raw: Record<string, unknown>,
  index: RepositoryIndex,
  keys: ReadonlyArray<RawPublicKey>
) => {
  const subject = Keys.index
  if (index.signatures.length === 0)
    return fail(subject, "signature", "unsigned", "index.json has no signature")
  const bytes = indexSignedBytes(raw)
  const trusted = index.signatures.flatMap((s) =>
    keys.filter((k) => matchesKeyId(k, s.keyid)).map((k) => ({ s, k }))
  )
  if (trusted.length === 0) {
    const ids = index.signatures.map((s) => s.keyid).join(", ")
    return fail(
      subject,
      "signature",
      "unknown-key",
      `index.json is signed by ${ids}, none of them a trusted key`
    )
  }
  const good = trusted.find(({ k, s }) => verifyWithKey(k, bytes, Buffer.from(s.sig, "base64")))
  return good === undefined
    ? fail(
        subject,
        "signature",
        "bad-signature",
        `index.json: signature does not verify with trusted key ${trusted[0]!.k.id}`
      )
    : pass(subject, "signature", `${good.k.algorithm} signature by ${good.k.id} (${good.k.file})`)
}

const readIndexChecked = (repo: RepositoryShape, keys: ReadonlyArray<RawPublicKey>, now: number) =>
  Effect.gen(function* () {
    const stored = yield* repo.read(Keys.index)
    if (Option.isNone(stored)) return { index: undefined, findings: [] as Array<RepoFinding> }
    const raw = parseJson(stored.value.bytes)
    const decoded = Either.flatMap(raw, decodeWith(RepositoryIndex))
    if (
      Either.isLeft(decoded) ||
      Either.isLeft(raw) ||
      typeof raw.right !== "object" ||
      raw.right === null
    ) {
      const why = Either.isLeft(decoded) ? decoded.left : "not a JSON object"
      const malformed = fail(
        Keys.index,
        "index",
        "malformed",
        `index.json cannot be decoded: ${why}`
      )
      return { index: undefined, findings: [malformed] }
    }
    const index = decoded.right
    const findings = [checkIndexSignature(raw.right as Record<string, unknown>, index, keys)]
    const versions = index.releases.map((r) => r.version)
    const twice = versions.filter((v, i) => versions.indexOf(v) !== i)
    findings.push(
      twice.length > 0
        ? fail(
            Keys.index,
            "index",
            "malformed",
            `index.json lists ${twice.join(", ")} more than once`
          )
        : index.total_releases !== versions.length
          ? fail(
              Keys.index,
              "index",
              "malformed",
              `total_releases is ${index.total_releases}, ${versions.length} listed`
            )
          : pass(Keys.index, "index", `serial ${index.serial}, ${versions.length} releases`)
    )
    const expires = index.expires === null ? undefined : Date.parse(index.expires)
    findings.push(
      expires === undefined
        ? pass(Keys.index, "freshness", "index.json has no expiry")
        : Number.isNaN(expires)
          ? fail(
              Keys.index,
              "freshness",
              "malformed",
              `expires ${JSON.stringify(index.expires)} is not a timestamp`
            )
          : expires <= now
            ? fail(Keys.index, "freshness", "expired", `index.json expired at ${index.expires}`)
            : pass(Keys.index, "freshness", `expires ${index.expires}`)
    )
    return { index, findings }
  })

const sameList = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) =>
  a.length === b.length && a.every((x, i) => x === b[i])

const checkIndexEntries = (
  index: RepositoryIndex,
  releases: ReadonlyArray<CheckedRelease>,
  claimed: (version: string) => boolean
) => {
  const out: Array<RepoFinding> = []
  const byVersion = new Map(releases.map((r) => [r.version, r]))
  for (const entry of index.releases) {
    const subject = `${Keys.index} ${entry.version}`
    const release = byVersion.get(entry.version)
    if (release?.recordSha256 === undefined) {
      out.push(
        fail(subject, "index-entry", "missing", `${Keys.releaseRecord(entry.version)} is missing`)
      )
      continue
    }
    const r = release.record
    const differ = [
      entry.release_record_sha256 !== release.recordSha256 ? "release_record_sha256" : undefined,
      r !== undefined && r.version !== entry.version ? "version" : undefined,
      r !== undefined && r.sha256 !== entry.sha256 ? "sha256" : undefined,
      r !== undefined && r.size_bytes !== entry.size_bytes ? "size_bytes" : undefined,
      r !== undefined &&
      !sameList(
        r.files.map((f) => f.path),
        entry.artifacts
      )
        ? "artifacts"
        : undefined
    ].filter((d) => d !== undefined)
    out.push(
      differ.length === 0
        ? pass(subject, "index-entry", `matches ${Keys.releaseRecord(entry.version)}`)
        : fail(
            subject,
            "index-entry",
            "entry-mismatch",
            `${differ.join(", ")} differ from ${Keys.releaseRecord(entry.version)}`
          )
    )
  }
  const listed = new Set(index.releases.map((e) => e.version))
  for (const r of releases) {
    if (r.recordSha256 === undefined || listed.has(r.version)) continue
    // Committed, and the publisher still holds its claim: the index update is on its way.
    if (claimed(r.version)) {
      out.push(
        pass(
          Keys.releaseRecord(r.version),
          "index-entry",
          "publish in progress (claimed)",
          "in-progress"
        )
      )
    } else {
      out.push(
        fail(
          Keys.releaseRecord(r.version),
          "index-entry",
          "not-indexed",
          `${r.version} has a release record but is not in index.json (rolled back index, or a ` +
            `publish to finish ` +
            "with relpub repair)"
        )
      )
    }
  }
  return out
}

/** One audit record of the chain, newest first. */
interface Link {
  readonly key: string
  readonly sequence: number
  readonly sha256: string
}

/** The newest `yank` or `unyank` record of a version on the chain. */
interface YankEvent {
  readonly key: string
  readonly event: "yank" | "unyank"
  readonly timestamp: string
  readonly reason: string | undefined
}

const signatureKeyOf = (auditKey: string) => auditKey.replace(/\.json$/, ".sig")

const walkAuditChain = (
  repo: RepositoryShape,
  head: AuditPointer | null,
  keys: ReadonlyArray<RawPublicKey>,
  releases: ReadonlyArray<CheckedRelease>
) =>
  Effect.gen(function* () {
    const out: Array<RepoFinding> = []
    const chain: Array<Link> = []
    const recordShaOf = new Map(releases.map((r) => [r.version, r.recordSha256]))
    const visited = new Set<string>()
    // Walking newest first, the first yank or unyank seen of a version is its latest.
    const yanks = new Map<string, YankEvent>()
    let complete = false
    let pointer = head
    while (pointer !== null) {
      const key = pointer.key
      if (visited.has(key)) {
        out.push(fail(key, "audit-chain", "sequence-mismatch", `the chain loops back to ${key}`))
        break
      }
      visited.add(key)
      const stored = yield* repo.read(key)
      if (Option.isNone(stored)) {
        out.push(
          fail(
            key,
            "audit-chain",
            "missing",
            `audit record ${pointer.sequence} (${key}) was removed`
          )
        )
        break
      }
      const bytes = stored.value.bytes
      const sha256 = sha256Hex(bytes)
      const decoded = Either.flatMap(parseJson(bytes), decodeWith(AuditRecord))
      const signature = Option.map(yield* repo.read(signatureKeyOf(key)), (o) => o.bytes)
      out.push(
        checkSignature(
          key,
          bytes,
          signature,
          Either.getOrUndefined(decoded)?.signing_key_id ?? null,
          keys
        )
      )
      if (sha256 !== pointer.sha256) {
        out.push(
          fail(
            key,
            "audit-chain",
            "digest-mismatch",
            `${key} has SHA-256 ${sha256}, the chain expects ${pointer.sha256} (altered or ` +
              `replaced)`
          )
        )
      }
      if (Either.isLeft(decoded)) {
        out.push(fail(key, "audit-chain", "malformed", `${key} cannot be decoded: ${decoded.left}`))
        break
      }
      const record = decoded.right
      const problems = [
        record.sequence !== pointer.sequence
          ? `has sequence ${record.sequence}, the chain expects ${pointer.sequence}`
          : undefined,
        record.previous === null && record.sequence !== 1
          ? `ends the chain at sequence ${record.sequence}`
          : undefined,
        record.previous !== null && record.previous.sequence !== record.sequence - 1
          ? `points back to sequence ${record.previous.sequence}`
          : undefined
      ].filter((p) => p !== undefined)
      if (problems.length > 0)
        out.push(fail(key, "audit-chain", "sequence-mismatch", `${key} ${problems.join("; ")}`))
      const recordSha = record.event !== "repair" ? recordShaOf.get(record.version) : undefined
      if (recordSha !== undefined && record.release_record_sha256 !== recordSha) {
        out.push(
          fail(
            key,
            "audit-chain",
            "entry-mismatch",
            `${key} records release.json SHA-256 ${record.release_record_sha256}, ` +
              `${Keys.releaseRecord(record.version)} has ${recordSha}`
          )
        )
      }
      // An altered record's back pointer is not evidence of anything: stop there.
      if (sha256 !== pointer.sha256) break
      if (problems.length === 0)
        out.push(pass(key, "audit-chain", `sequence ${record.sequence}, ${record.event}`))
      chain.push({ key, sequence: record.sequence, sha256 })
      if ((record.event === "yank" || record.event === "unyank") && !yanks.has(record.version)) {
        yanks.set(record.version, {
          key,
          event: record.event,
          timestamp: record.timestamp,
          reason: record.details
        })
      }
      pointer = record.previous
      complete = pointer === null && record.sequence === 1
    }
    return { findings: out, chain, visited, yanks, complete: complete || head === null }
  })

/**
 * The index's yank marks against the audit trail: a version is marked yanked
 * exactly when its latest yank or unyank record on the chain is a yank, with
 * that record's time and reason. Without a record on the chain, a mark is
 * reported only when the chain was walked to its first record.
 */
const checkYankMarks = (
  index: RepositoryIndex,
  yanks: ReadonlyMap<string, YankEvent>,
  complete: boolean
) => {
  const out: Array<RepoFinding> = []
  for (const entry of index.releases) {
    const subject = `${Keys.index} ${entry.version}`
    const latest = yanks.get(entry.version)
    const mark = entry.yanked
    if (latest === undefined) {
      if (mark !== undefined && complete) {
        out.push(
          fail(
            subject,
            "index-entry",
            "entry-mismatch",
            `${entry.version} is marked yanked (${mark.at}) but no yank record on the audit ` +
              `chain says so`
          )
        )
      }
      continue
    }
    if (latest.event === "unyank") {
      if (mark !== undefined) {
        out.push(
          fail(
            subject,
            "index-entry",
            "entry-mismatch",
            `${entry.version} is marked yanked (${mark.at}) but its latest record ${latest.key} ` +
              `un-yanked it`
          )
        )
      }
      continue
    }
    out.push(
      mark === undefined
        ? fail(
            subject,
            "index-entry",
            "entry-mismatch",
            `${latest.key} yanked ${entry.version} at ${latest.timestamp}, but index.json does ` +
              `not mark it yanked`
          )
        : mark.at !== latest.timestamp || mark.reason !== latest.reason
          ? fail(
              subject,
              "index-entry",
              "entry-mismatch",
              `the yanked mark (${mark.at}, ${JSON.stringify(mark.reason)}) differs from ` +
                `${latest.key} ` +
                `(${latest.timestamp}, ${JSON.stringify(latest.reason ?? null)})`
            )
          : pass(subject, "index-entry", `yanked at ${mark.at}, as ${latest.key} records`)
    )
  }
  return out
}

/** Audit records and signatures present in the repository but not on the chain from the index. */
const checkUnchained = (
  repo: RepositoryShape,
  objects: ReadonlyArray<ObjectInfo>,
  visited: ReadonlySet<string>,
  headSequence: number
) =>
  Effect.gen(function* () {
    const out: Array<RepoFinding> = []
    const records = new Set(objects.filter((o) => o.key.endsWith(".audit.json")).map((o) => o.key))
    for (const key of records) {
      if (visited.has(key)) continue
      const stored = yield* repo.read(key)
      const record = Option.isNone(stored)
        ? undefined
        : Either.getOrUndefined(
            Either.flatMap(parseJson(stored.value.bytes), decodeWith(AuditRecord))
          )
      out.push(
        record !== undefined && record.sequence > headSequence
          ? fail(
              Keys.index,
              "freshness",
              "rolled-back",
              `${key} (sequence ${record.sequence}) is newer than the index's audit head ` +
                `(sequence ${headSequence}): ` +
                "index.json was rolled back"
            )
          : fail(
              key,
              "audit-chain",
              "outside-chain",
              `${key} is not on the chain from the index's audit head (a removed, reordered or ` +
                `replaced link)`
            )
      )
    }
    for (const o of objects) {
      const recordKey = o.key.replace(/\.audit\.sig$/, ".audit.json")
      if (o.key.endsWith(".audit.sig") && !records.has(recordKey) && !visited.has(recordKey)) {
        out.push(
          fail(recordKey, "audit-chain", "missing", `${o.key} is there but its record was removed`)
        )
      }
    }
    return out
  })

/** Rollback against what an earlier run saw (`--state`). */
const checkAgainstSeen = (
  seen: SeenIndex,
  index: RepositoryIndex | undefined,
  chain: ReadonlyArray<Link>
) => {
  const subject = Keys.index
  const head = index?.audit_head ?? null
  const seenHead = seen.audit_head
  if (index === undefined || index.serial < seen.serial) {
    return fail(
      subject,
      "freshness",
      "rolled-back",
      `serial ${index?.serial ?? "(no index)"} is lower than serial ${seen.serial} seen before`
    )
  }
  if (seenHead !== null && (head === null || head.sequence < seenHead.sequence)) {
    return fail(
      subject,
      "freshness",
      "rolled-back",
      `audit head sequence ${head?.sequence ?? 0} is older than sequence ${seenHead.sequence} ` +
        `seen before`
    )
  }
  const before = seenHead === null ? undefined : chain.find((l) => l.sequence === seenHead.sequence)
  if (
    seenHead !== null &&
    ((index.serial === seen.serial && head?.sha256 !== seenHead.sha256) ||
      (before !== undefined && before.sha256 !== seenHead.sha256))
  ) {
    return fail(
      subject,
      "freshness",
      "forked",
      `the audit record with sequence ${seenHead.sequence} is not the one seen before (history ` +
        `rewritten)`
    )
  }
  return pass(
    subject,
    "freshness",
    `serial ${index.serial} is not older than serial ${seen.serial} seen before`
  )
}

/**
 * Checks a whole repository against its signed metadata (DESIGN.md,
 * invariant 6): every release record and its signature, every artifact's
 * SHA-256 and size, the release hashes, unlisted objects, the index (its
 * signature, expiry and entries), and the audit hash chain. With `seen`,
 * also that the index is not older than one seen before.
 *
 * @category programs
 */
export const verifyRepository = (options: {
  readonly keys: ReadonlyArray<RawPublicKey>
  readonly seen?: SeenIndex | undefined
}) =>
  Effect.gen(function* () {
    const repo = yield* Repository
    const now = yield* Clock.currentTimeMillis
    const findings: Array<RepoFinding> = []

    const releaseObjects = yield* repo.list("releases/")
    const byVersion = new Map<string, Array<ObjectInfo>>()
    for (const o of releaseObjects) {
      const version = o.key.split("/")[1]!
      byVersion.set(version, [...(byVersion.get(version) ?? []), o])
    }
    const claims = new Set((yield* repo.list(Keys.claimsPrefix)).map((o) => o.key))
    const claimed = (version: string) => claims.has(Keys.claim(canonicalVersion(version)))
    const scratch = yield* scratchDir
    const counter = { n: 0 }
    const checked = yield* Effect.forEach([...byVersion], ([version, objects]) =>
      checkRelease(repo, version, objects, options.keys, claimed(version), scratch, counter)
    )
    const releases = checked.map((c) => c.release)
    findings.push(...checked.flatMap((c) => c.findings))

    const { index, findings: indexFindings } = yield* readIndexChecked(repo, options.keys, now)
    findings.push(...indexFindings)
    const auditObjects = yield* repo.list("audit/")
    if (index !== undefined) findings.push(...checkIndexEntries(index, releases, claimed))
    else if (indexFindings.length === 0) {
      // Fail closed: a mistyped location must not pass as an empty repository.
      findings.push(
        fail(
          Keys.index,
          "index",
          "missing",
          releases.length > 0 || auditObjects.length > 0
            ? "index.json is missing, but releases or audit records exist"
            : `no index.json at ${repo.location}: nothing published there, or not a relpub ` +
                `repository`
        )
      )
    }

    const head = index?.audit_head ?? null
    const walked = yield* walkAuditChain(repo, head, options.keys, releases)
    findings.push(...walked.findings)
    if (index !== undefined) findings.push(...checkYankMarks(index, walked.yanks, walked.complete))
    findings.push(
      ...(yield* checkUnchained(repo, auditObjects, walked.visited, head?.sequence ?? 0))
    )
    if (options.seen !== undefined)
      findings.push(checkAgainstSeen(options.seen, index, walked.chain))

    const passed = findings.every((f) => f.ok)
    return {
      schema: "relpub/verify-repo/v1",
      repository: repo.location,
      checked_at: new Date(now).toISOString(),
      passed,
      exit_code: passed ? 0 : 30,
      releases: releases.filter((r) => r.recordSha256 !== undefined).length,
      artifacts: checked.reduce((n, c) => n + c.artifacts, 0),
      audit_records: walked.chain.length,
      index: index === undefined ? null : { serial: index.serial, audit_head: index.audit_head },
      findings
    } satisfies RepoReport
  }).pipe(Effect.scoped)

/**
 * `--state FILE`: the newest index seen per repository location.
 *
 * @category models
 */
export const StateFile = Schema.Struct({
  schema: Schema.Literal("relpub/verify-repo-state/v1"),
  repositories: Schema.Record({
    key: Schema.String,
    value: Schema.Struct({
      serial: Schema.Int,
      audit_head: Schema.NullOr(AuditPointer),
      checked_at: Schema.String
    })
  })
})
export type StateFile = typeof StateFile.Type

const emptyState: StateFile = { schema: "relpub/verify-repo-state/v1", repositories: {} }

/** Reads a state file; an absent file is an empty state. */
export const readState = (file: string): Effect.Effect<StateFile, UsageError> =>
  Effect.gen(function* () {
    const content = yield* Effect.tryPromise({
      try: () =>
        fsp.readFile(file, "utf8").catch((e: NodeJS.ErrnoException) => {
          if (e.code === "ENOENT") return undefined
          throw e
        }),
      catch: (e) =>
        new UsageError({ message: `--state ${file}: cannot be read (${(e as Error).message})` })
    })
    if (content === undefined) return emptyState
    return yield* Schema.decodeUnknown(Schema.parseJson(StateFile))(content).pipe(
      Effect.mapError(
        (e) =>
          new UsageError({
            message: `--state ${file}: not a verify-repo state file (${e.message})`
          })
      )
    )
  })

/** Remembers `seen` for `location`, never lowering what was seen before. */
export const remember = (
  state: StateFile,
  location: string,
  seen: SeenIndex,
  checkedAt: string
): StateFile => {
  const before = state.repositories[location]
  if (before !== undefined && before.serial > seen.serial) return state
  return {
    ...state,
    repositories: { ...state.repositories, [location]: { ...seen, checked_at: checkedAt } }
  }
}

/** Writes a state file atomically (a temporary file renamed over it). */
export const writeState = (file: string, state: StateFile): Effect.Effect<void, UsageError> =>
  Effect.try({
    try: () => {
      const temp = `${file}.${process.pid}.tmp`
      fs.writeFileSync(temp, JSON.stringify(state, null, 2) + "\n")
      fs.renameSync(temp, file)
    },
    catch: (e) =>
      new UsageError({ message: `--state ${file}: cannot be written (${(e as Error).message})` })
  })
