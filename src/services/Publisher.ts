import { Clock, Duration, Effect, Either, Option, Schedule, Schema } from "effect"
import { canonicalize } from "json-canonicalize"
import { type Evaluation, evaluate } from "../domain/Checks.ts"
import {
  type AlreadyExists,
  PolicyRejected,
  RolledBack,
  StorageError,
  UsageError,
  VersionExists
} from "../domain/Errors.ts"
import { formatSha256Sums } from "../domain/Manifest.ts"
import { type Decision, decide, type Policy, type Violation } from "../domain/Policy.ts"
import {
  type AuditPointer,
  type AuditRecord,
  claimGraceMillis,
  emptyIndex,
  encodeJson,
  type IndexEntry,
  Keys,
  type ReleaseRecord,
  RepositoryIndex
} from "../domain/Records.ts"
import { parseVersion } from "../domain/Version.ts"
import { indexMarkdownSerial, renderIndexMarkdown } from "../domain/IndexMarkdown.ts"
import { ensureSafeBackend } from "./Guarantees.ts"
import { Hasher } from "./Hasher.ts"
import { type Release, ReleaseReader } from "./ReleaseReader.ts"
import { Repository, type RepositoryShape } from "./Repository.ts"
import { RuntimeInfo } from "./Runtime.ts"
import { Signer, type SigningKeyShape } from "./Signer.ts"
import {
  claim,
  ensureNotPublished,
  renewClaim,
  rollBackAttempt,
  rolledBack,
  type Transaction
} from "./Transaction.ts"

/**
 * What to publish and under which policy.
 *
 * @category models
 */
export interface PublishRequest {
  readonly releaseDir: string
  readonly version: string
  readonly policy: Policy
  readonly verificationResultFile?: string | undefined
  readonly validationResultFile?: string | undefined
  /**
   * Directory of trusted public keys. Without a verification result file,
   * relpub then verifies signatures, SBOMs, provenance and encrypted files
   * itself (docs/verification.md) before publishing.
   */
  readonly trustedKeysDir?: string | undefined
  readonly dryRun?: boolean | undefined
  /** Publish even into a backend that failed the guarantee probes (docs/cloud.md). */
  readonly allowUnsafeBackend?: boolean | undefined
  /** How long a claim protects an attempt before others may take it over. */
  readonly leaseMillis?: number | undefined
}

/** A release read and judged, before anything is written. */
export interface Inspection {
  readonly request: PublishRequest
  readonly release: Release
  readonly evaluation: Evaluation
  readonly decision: Decision
}

/**
 * The result of a publish that succeeded (or, with `dryRun`, would have).
 *
 * @category models
 */
export interface PublishOutcome {
  readonly inspection: Inspection
  readonly status: "published" | "dry-run"
  readonly record: ReleaseRecord | undefined
  readonly transactionId: string | undefined
  readonly indexUpdated: boolean
  readonly auditWritten: boolean
  readonly auditSigned: boolean
}

const DEFAULT_LEASE_MILLIS = 15 * 60 * 1000

/** Run a protocol step and log its duration at debug level (`--verbose`). */
const step = <A, E, R>(name: string, effect: Effect.Effect<A, E, R>) =>
  Effect.timed(effect).pipe(
    Effect.tap(([d]) => Effect.logDebug(`${name} done in ${Math.round(Duration.toMillis(d))} ms`)),
    Effect.map(([, a]) => a),
    Effect.annotateLogs("step", name)
  )
const iso = (ms: number) => new Date(ms).toISOString()

const CHECK_OF: Readonly<Record<string, Violation["check"]>> = {
  signature: "signatures",
  encryption: "encryption",
  sbom: "metadata",
  provenance: "metadata"
}

/**
 * relpub's own verification against trusted keys, as violations. Hash
 * findings are left out: the manifest check already covers them. The
 * verifiers load only here, so a publish without trusted keys never pays
 * for them.
 */
const ownVerification = (request: PublishRequest, release: Release) =>
  Effect.gen(function* () {
    const { verifyRelease } = yield* Effect.promise(() => import("./Verifier.ts"))
    const { layer: fileSystem } = yield* Effect.promise(
      () => import("@effect/platform-node/NodeFileSystem")
    )
    const outcome = yield* verifyRelease({
      dir: request.releaseDir,
      version: request.version,
      trustedKeysDir: request.trustedKeysDir,
      policy: request.policy,
      release
    }).pipe(
      Effect.provide(fileSystem),
      Effect.mapError((e) =>
        e._tag === "UsageError" ? e : new UsageError({ message: `--trusted-keys: ${e.message}` })
      )
    )
    return outcome.result.findings
      .filter((f) => !f.ok && f.check !== "hash")
      .map(
        (f): Violation => ({
          check: CHECK_OF[f.check] ?? "verification",
          exitCode: f.exit_code,
          severity: f.severity,
          file: f.file,
          message: f.detail
        })
      )
  })

/** Step 1: read the release directory and apply the policy. Writes nothing. */
export const inspect = (request: PublishRequest) =>
  Effect.gen(function* () {
    const version = parseVersion(request.version)
    if (version._tag === "Left") {
      return yield* new UsageError({
        message:
          `--version ${JSON.stringify(request.version)}: not a semantic version (e.g. ` +
          `1.4.0 or v1.4.0)`
      })
    }
    const reader = yield* ReleaseReader
    const release = yield* reader.read({
      dir: request.releaseDir,
      version: request.version,
      verificationResultFile: request.verificationResultFile,
      validationResultFile: request.validationResultFile
    })
    const own =
      request.verificationResultFile === undefined && request.trustedKeysDir !== undefined
        ? yield* ownVerification(request, release)
        : []
    const facts =
      own.length > 0 || request.trustedKeysDir !== undefined
        ? { ...release.facts, trustedKeysGiven: true }
        : release.facts
    const base = evaluate(request.policy, facts)
    const evaluation = { ...base, violations: [...base.violations, ...own] }
    const decision = decide(request.policy, evaluation.violations)
    return { request, release, evaluation, decision } satisfies Inspection
  }).pipe((e) => step("inspect", e))

/** The published files: every file of the release, with the digest taken in step 1. */
const publishedFiles = (release: Release) =>
  release.files.map((f) => {
    const d = release.digests.get(f.path)!
    return { path: f.path, sha256: d.sha256, size: d.size }
  })

const buildRecord = (inspection: Inspection, txid: string, now: number, keyId: string | null) =>
  Effect.map(Hasher, (hasher): ReleaseRecord => {
    const { release, request } = inspection
    const files = publishedFiles(release)
    const v = release.facts.verification
    const w = release.facts.validation
    return {
      schema: "relpub/release/v1",
      version: request.version,
      published_at: iso(now),
      sha256: hasher.hashBytes(formatSha256Sums(files)),
      size_bytes: files.reduce((n, f) => n + f.size, 0),
      files,
      sbom_id: release.metadata.sbomId ?? null,
      slsa_id: release.metadata.slsaId ?? null,
      provenance_hash: release.metadata.provenanceHash ?? null,
      signed: release.metadata.signed,
      encrypted: release.metadata.encrypted,
      policy_mode: request.policy.mode,
      verification: v._tag === "Valid" ? { ...v.result } : null,
      validation: w._tag === "Valid" ? { ...w.result } : null,
      transaction_id: txid,
      signing_key_id: keyId
    }
  })

/** Steps 3-5: stage every file, check what the backend holds, promote. */
const stageAndPromote = (repo: RepositoryShape, tx: Transaction, release: Release) =>
  Effect.gen(function* () {
    const files = publishedFiles(release)
    // Largest first, so no big file is left running alone at the end. Two at
    // a time: four uploads to SeaweedFS were no faster and took 20% more memory
    // (docs/benchmarks.md).
    const bySize = [...release.files].sort((a, b) => b.size - a.size)
    const width = 2
    yield* Effect.forEach(
      bySize,
      (f) =>
        repo.upload(f.absolutePath, tx.stagePrefix + f.path, release.digests.get(f.path)).pipe(
          Effect.mapError(rolledBack("stage")),
          Effect.flatMap((sent) => {
            const verified = release.digests.get(f.path)!
            return sent.sha256 === verified.sha256 && sent.size === verified.size
              ? Effect.void
              : Effect.fail(
                  new RolledBack({
                    step: "stage",
                    detail:
                      `${f.path} changed after it was verified (SHA-256 ${sent.sha256}, ` +
                      `verified ${verified.sha256})`
                  })
                )
          })
        ),
      { concurrency: width, discard: true }
    ).pipe((e) => step("stage", e))

    yield* step("verify-staged", checkObjects(repo, tx.stagePrefix, files, "verify-staged"))
    tx.touchedRelease = true
    yield* repo
      .promote(
        tx.stagePrefix,
        tx.releasePrefix,
        files.map((f) => tx.stagePrefix + f.path)
      )
      .pipe(Effect.mapError(rolledBack("promote")), (e) => step("promote", e))
    yield* step("verify-promoted", checkObjects(repo, tx.releasePrefix, files, "verify-promoted"))
  })

/**
 * Steps 4 and 6: the backend must hold exactly the verified files, with their sizes (and hashes, if
 * it knows them).
 */
const checkObjects = (
  repo: RepositoryShape,
  prefix: string,
  files: ReadonlyArray<{ readonly path: string; readonly sha256: string; readonly size: number }>,
  step: "verify-staged" | "verify-promoted"
) =>
  Effect.gen(function* () {
    const listed = yield* repo.list(prefix).pipe(Effect.mapError(rolledBack(step)))
    const byKey = new Map(listed.map((o) => [o.key, o]))
    for (const f of files) {
      const o = byKey.get(prefix + f.path)
      const problem =
        o === undefined
          ? "is missing"
          : o.size !== f.size
            ? `has ${o.size} bytes, expected ${f.size}`
            : o.sha256 !== undefined && o.sha256 !== f.sha256
              ? `has SHA-256 ${o.sha256}, expected ${f.sha256}`
              : undefined
      if (problem !== undefined)
        return yield* new RolledBack({ step, detail: `${prefix}${f.path} ${problem}` })
      byKey.delete(prefix + f.path)
    }
    if (step === "verify-staged" && byKey.size > 0) {
      return yield* new RolledBack({
        step,
        detail: `unexpected objects under ${prefix}: ${[...byKey.keys()].join(", ")}`
      })
    }
  })

export const indexEntryOf = (record: ReleaseRecord, recordSha256: string): IndexEntry => ({
  version: record.version,
  timestamp: record.published_at,
  sha256: record.sha256,
  size_bytes: record.size_bytes,
  artifacts: record.files.map((f) => f.path),
  sbom_id: record.sbom_id,
  slsa_id: record.slsa_id,
  provenance_hash: record.provenance_hash,
  signed: record.signed,
  encrypted: record.encrypted,
  verification: record.verification,
  validation: record.validation,
  release_record_sha256: recordSha256
})

const decodeIndex = (bytes: Uint8Array) =>
  Schema.decodeUnknown(Schema.parseJson(RepositoryIndex))(new TextDecoder().decode(bytes)).pipe(
    Effect.mapError(
      (e) =>
        new StorageError({
          operation: "read",
          key: Keys.index,
          detail: `index.json is corrupt: ${e.message}`,
          retryable: false
        })
    )
  )

/** Read the index and its compare-and-swap token (an absent index is empty). */
export const readIndex = (repo: RepositoryShape) =>
  Effect.gen(function* () {
    const stored = yield* repo.read(Keys.index)
    if (Option.isNone(stored)) return { index: emptyIndex, etag: undefined as string | undefined }
    return {
      index: yield* decodeIndex(stored.value.bytes),
      etag: stored.value.etag as string | undefined
    }
  })

/** Write an object this publisher owns (its own audit record), whatever is there. */
const putOwned = (repo: RepositoryShape, key: string, bytes: Uint8Array) =>
  repo.head(key).pipe(
    Effect.flatMap((o) => repo.swap(key, bytes, Option.getOrUndefined(o)?.etag)),
    Effect.retry({ times: 5, while: (e) => e._tag === "PreconditionFailed" })
  )

const casSchedule = Schedule.exponential("5 millis", 1.5).pipe(
  Schedule.jittered,
  Schedule.union(Schedule.spaced("250 millis")),
  Schedule.intersect(Schedule.recurs(200))
)

/**
 * One change of the catalog: the releases the index lists afterwards, and the
 * audit record (chained after `previous`, numbered `sequence`) describing it.
 */
export interface IndexChange {
  readonly releases: ReadonlyArray<IndexEntry>
  readonly audit: (previous: AuditPointer | null, sequence: number) => AuditRecord
}

/**
 * Change the index and chain an audit record after the current head, in one
 * compare-and-swap of index.json; retried from the read on conflict, so
 * concurrent updates never lose one another. `change` decides from the index
 * just read (and the time the update is made): undefined means there is
 * nothing to do, and then nothing is written.
 */
export const updateIndex = <E extends { readonly _tag: string } = never, R = never>(
  change: (index: RepositoryIndex, now: number) => Effect.Effect<IndexChange | undefined, E, R>,
  auditKeys: { readonly record: string; readonly signature: string }
) =>
  Effect.gen(function* () {
    const repo = yield* Repository
    const signer = yield* Signer
    const hasher = yield* Hasher
    const once = Effect.gen(function* () {
      const { index, etag } = yield* readIndex(repo)
      const now = yield* Clock.currentTimeMillis
      const next = yield* change(index, now)
      if (next === undefined) return { index, signed: false, changed: false }
      const sequence = (index.audit_head?.sequence ?? 0) + 1
      const auditBytes = encodeJson(next.audit(index.audit_head, sequence))
      if (Option.isSome(signer))
        yield* putOwned(repo, auditKeys.signature, signer.value.sign(auditBytes))
      yield* putOwned(repo, auditKeys.record, auditBytes)
      const unsigned: RepositoryIndex = {
        schema: "relpub/index/v1",
        total_releases: next.releases.length,
        last_updated: iso(now),
        serial: index.serial + 1,
        expires: Option.isSome(signer) ? iso(now + INDEX_VALIDITY_MILLIS) : null,
        audit_head: { key: auditKeys.record, sha256: hasher.hashBytes(auditBytes), sequence },
        releases: next.releases,
        signatures: []
      }
      const updated = Option.isSome(signer) ? signIndex(unsigned, signer.value) : unsigned
      yield* repo.swap(Keys.index, encodeJson(updated), etag)
      return { index: updated, signed: Option.isSome(signer), changed: true }
    })
    const result = yield* once.pipe(
      Effect.retry({ schedule: casSchedule, while: (e) => e._tag === "PreconditionFailed" })
    )
    yield* writeIndexMarkdown(repo, result.index)
    return result
  }).pipe((e) => step("index", e))

/**
 * Step 7: add `entry` to the index (unless it is there already) and chain an
 * audit record after the current head (see {@link updateIndex}).
 */
export const recordInIndex = (
  entry: IndexEntry | undefined,
  audit: (previous: AuditPointer | null, sequence: number, now: number) => AuditRecord,
  auditKeys: { readonly record: string; readonly signature: string }
) =>
  updateIndex(
    (index, now) =>
      Effect.succeed(
        entry !== undefined && index.releases.some((r) => r.version === entry.version)
          ? undefined
          : {
              releases: entry === undefined ? index.releases : [entry, ...index.releases],
              audit: (previous, sequence) => audit(previous, sequence, now)
            }
      ),
    auditKeys
  )

/** How long a signed index stays fresh; verify-repo reports an expired one. */
export const INDEX_VALIDITY_MILLIS = 365 * 24 * 60 * 60 * 1000

/** The bytes an index signature covers: RFC 8785 canonical JSON without `signatures`. */
export const indexSigningBytes = (index: RepositoryIndex): Uint8Array => {
  const { signatures: _signatures, ...rest } = index
  return new TextEncoder().encode(canonicalize(rest))
}

const signIndex = (index: RepositoryIndex, key: SigningKeyShape): RepositoryIndex => ({
  ...index,
  signatures: [
    {
      keyid: key.keyId,
      algorithm: key.algorithm,
      sig: Buffer.from(key.sign(indexSigningBytes(index))).toString("base64")
    }
  ]
})

/** Bring index.md up to `index` unless a newer index already rendered it. */
const writeIndexMarkdown = (repo: RepositoryShape, index: RepositoryIndex) =>
  Effect.gen(function* () {
    const current = yield* repo.read(Keys.indexMarkdown)
    const text = Option.map(current, (c) => new TextDecoder().decode(c.bytes))
    if (Option.isSome(text) && indexMarkdownSerial(text.value) >= index.serial) return
    yield* repo.swap(
      Keys.indexMarkdown,
      new TextEncoder().encode(renderIndexMarkdown(index)),
      Option.getOrUndefined(current)?.etag
    )
  }).pipe(Effect.retry({ schedule: casSchedule, while: (e) => e._tag === "PreconditionFailed" }))

/**
 * The audit record of a change that publishes no files: a `repair`, or a
 * `yank`/`unyank` of the index entry `entry` (whose hashes it repeats).
 */
export const bookkeepingAudit = (a: {
  readonly event: "repair" | "yank" | "unyank"
  readonly txid: string
  readonly version: string
  readonly timestamp: string
  readonly machineId: string
  readonly previous: AuditPointer | null
  readonly sequence: number
  readonly entry?: IndexEntry | undefined
  readonly repositoryType: string
  readonly signingKeyId: string | null
  readonly details: string
}): AuditRecord => ({
  schema: "relpub/audit/v1",
  audit_id: `${a.txid}-audit`,
  sequence: a.sequence,
  event: a.event,
  version: a.version,
  timestamp: a.timestamp,
  machine_id: a.machineId,
  previous: a.previous,
  release_record_sha256: a.entry?.release_record_sha256 ?? null,
  metadata: {
    sha256: a.entry?.sha256 ?? null,
    sbom_id: a.entry?.sbom_id ?? null,
    slsa_id: a.entry?.slsa_id ?? null,
    provenance_hash: a.entry?.provenance_hash ?? null,
    signed: a.entry?.signed ?? false,
    encrypted: a.entry?.encrypted ?? false
  },
  verification: null,
  validation: null,
  publication: {
    artifacts_published: 0,
    total_bytes: 0,
    repository_type: a.repositoryType,
    policy_mode: "strict",
    transaction_id: a.txid
  },
  signing_key_id: a.signingKeyId,
  details: a.details
})

const auditOf = (
  record: ReleaseRecord,
  recordSha256: string,
  inspection: Inspection,
  kind: string,
  txid: string
) =>
  Effect.map(
    RuntimeInfo,
    (runtime) =>
      (previous: AuditPointer | null, sequence: number, now: number): AuditRecord => ({
        schema: "relpub/audit/v1",
        audit_id: `${txid}-audit`,
        sequence,
        event: "publish",
        version: record.version,
        timestamp: iso(now),
        machine_id: runtime.host,
        previous,
        release_record_sha256: recordSha256,
        metadata: {
          sha256: record.sha256,
          sbom_id: record.sbom_id,
          slsa_id: record.slsa_id,
          provenance_hash: record.provenance_hash,
          signed: record.signed,
          encrypted: record.encrypted
        },
        verification: record.verification,
        validation: record.validation,
        publication: {
          artifacts_published: record.files.length,
          total_bytes: record.size_bytes,
          repository_type: kind,
          policy_mode: inspection.request.policy.mode,
          transaction_id: txid
        },
        signing_key_id: record.signing_key_id
      })
  )

/**
 * Keep the claim's lease ahead of the work: renew it every third of its
 * length. Never succeeds; fails (37) when the claim is lost, which stops the
 * staging it races with.
 */
const keepClaimed = (repo: RepositoryShape, tx: Transaction) =>
  Effect.sleep(Duration.millis(Math.max(tx.leaseMillis / 3, 1))).pipe(
    Effect.zipRight(renewClaim(repo, tx)),
    Effect.forever
  )

/** Roll back an attempt that did not commit, if its claim is still ours to roll back. */
const rollBackOwn = (repo: RepositoryShape, tx: Transaction) =>
  Effect.gen(function* () {
    if (tx.outcomeUnknown) {
      return yield* Effect.logWarning(
        `left ${tx.version} (transaction ${tx.txid}) to relpub repair: its release record may ` +
          `still land`
      )
    }
    const current = yield* repo.head(tx.claimKey)
    if (Option.isNone(current) || current.value.etag !== tx.claimEtag) {
      // Our own staging area is ours alone; releases/<version>/ may be another's now.
      if (tx.stagePrefix !== tx.releasePrefix) yield* repo.removePrefix(tx.stagePrefix)
      return yield* Effect.logWarning(
        `${tx.claimKey} is no longer ours: its new owner or relpub repair cleans up ${tx.version}`
      )
    }
    yield* Effect.logWarning(`rolling back ${tx.version} (transaction ${tx.txid})`)
    yield* rollBackAttempt(repo, tx, tx.claimEtag, tx.touchedRelease)
  })

/**
 * The `release.json` write failed in a way that may still land (no answer
 * before the lease ended, a reset, a 5xx) and the record is not there now.
 * Wait until the lease and its grace are over, when no request of ours can
 * land any more and nobody else may have taken the claim yet, and read it
 * back: ours means committed; absent means roll back (37). If even that read
 * fails, leave the attempt to `repair` (36) rather than roll back under a
 * record that may exist.
 */
const settleCommit = (
  tx: Transaction,
  leaseEnd: number,
  ourRecord: Effect.Effect<boolean>,
  cause: StorageError
) =>
  Effect.gen(function* () {
    const repo = yield* Repository
    const settled = leaseEnd + claimGraceMillis(tx.claim)
    yield* Effect.logWarning(
      `the answer to the release.json write was lost (${cause.detail}); ` +
        `waiting until ${iso(settled)}, when it can no longer land, to read it back`
    )
    const now = yield* Clock.currentTimeMillis
    yield* Effect.sleep(Duration.millis(Math.max(settled - now, 0) + 100))
    const record = yield* repo.read(Keys.releaseRecord(tx.version)).pipe(Effect.either)
    if (Either.isRight(record) && Option.isNone(record.right)) {
      return yield* rolledBack("commit")(cause)
    }
    if (yield* ourRecord) return
    if (Either.isRight(record)) {
      return yield* new VersionExists({
        version: tx.version,
        reason: "published",
        detail: "release.json appeared"
      })
    }
    tx.outcomeUnknown = true
    return yield* new StorageError({
      operation: "create",
      key: Keys.releaseRecord(tx.version),
      detail:
        `the outcome of the commit is unknown (${cause.detail}; reading it back failed: ` +
        `${record.left.detail}); run relpub repair: it rolls the release forward if its record ` +
        "landed, back if not",
      retryable: false,
      cause
    })
  })

/**
 * Steps 2-7 for an inspected release: claim, stage, verify, promote, verify,
 * commit, index and audit. The claim and staging area are a scoped resource:
 * on failure or interruption before the commit, its release rolls the
 * attempt back; after the commit it only cleans up.
 */
export const commit = (inspection: Inspection) =>
  Effect.gen(function* () {
    const repo = yield* Repository
    const signer = yield* Signer
    const hasher = yield* Hasher
    const { request, release } = inspection
    const lease = request.leaseMillis ?? DEFAULT_LEASE_MILLIS

    const tx = yield* Effect.acquireRelease(
      step("claim", claim(request.version, lease)),
      (tx, exit) =>
        (tx.committed
          ? Effect.all(
              [
                tx.stagePrefix === tx.releasePrefix
                  ? Effect.void
                  : repo.removePrefix(tx.stagePrefix),
                repo.remove(tx.claimKey, tx.claimEtag)
              ],
              { discard: true }
            )
          : rollBackOwn(repo, tx)
        ).pipe(
          Effect.catchAll((e) =>
            Effect.logError(`cleanup after ${exit._tag} left work for relpub repair: ${e.message}`)
          ),
          Effect.withLogSpan("release")
        )
    )

    yield* stageAndPromote(repo, tx, release).pipe(Effect.raceFirst(keepClaimed(repo, tx)))
    // A fresh lease for the commit, which proves the claim is still ours; the
    // commit's writes must end within it, or others could take over meanwhile.
    yield* renewClaim(repo, tx)
    const leaseEnd = Date.parse(tx.claim.lease_expires_at)
    const withinLease = <A, E extends StorageError | AlreadyExists>(
      key: string,
      write: Effect.Effect<A, E>
    ) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        write.pipe(
          Effect.timeoutFail({
            duration: Duration.millis(Math.max(leaseEnd - now, 0)),
            onTimeout: () =>
              new StorageError({
                operation: "create",
                key,
                detail: "no answer before the claim's lease ran out",
                retryable: true
              })
          })
        )
      )

    const now = yield* Clock.currentTimeMillis
    const keyId = Option.isSome(signer) ? signer.value.keyId : null
    const record = yield* buildRecord(inspection, tx.txid, now, keyId)
    const recordBytes = encodeJson(record)
    if (Option.isSome(signer)) {
      const sigKey = Keys.releaseSignature(request.version)
      yield* withinLease(sigKey, repo.create(sigKey, signer.value.sign(recordBytes))).pipe(
        Effect.mapError(rolledBack("commit"))
      )
    }
    // If the answer to this write is lost, the record may exist anyway: read it
    // back, and if it holds our bytes, the commit happened.
    const recordKey = Keys.releaseRecord(request.version)
    const ourRecord = repo.read(recordKey).pipe(
      Effect.map(
        (o) => Option.isSome(o) && Buffer.from(o.value.bytes).equals(Buffer.from(recordBytes))
      ),
      Effect.orElseSucceed(() => false)
    )
    yield* withinLease(recordKey, repo.create(recordKey, recordBytes)).pipe(
      Effect.catchAll((e) =>
        Effect.flatMap(
          ourRecord,
          (committed): Effect.Effect<void, VersionExists | RolledBack | StorageError> => {
            if (committed) return Effect.void
            if (e._tag === "AlreadyExists") {
              return Effect.fail(
                new VersionExists({
                  version: request.version,
                  reason: "published",
                  detail: "release.json appeared"
                })
              )
            }
            if (!e.retryable) return Effect.fail(rolledBack("commit")(e))
            return settleCommit(tx, leaseEnd, ourRecord, e).pipe(
              Effect.provideService(Repository, repo)
            )
          }
        )
      )
    )
    tx.committed = true
    yield* Effect.logInfo(`committed ${request.version}`)

    const recordSha256 = hasher.hashBytes(recordBytes)
    const audit = yield* auditOf(record, recordSha256, inspection, repo.kind, tx.txid)
    const indexed = yield* recordInIndex(indexEntryOf(record, recordSha256), audit, {
      record: Keys.auditRecord(request.version),
      signature: Keys.auditSignature(request.version)
    }).pipe(
      Effect.mapError(
        (e) =>
          new StorageError({
            operation: "swap",
            key: Keys.index,
            detail: `${request.version} is committed but the index was not updated (${
              e._tag === "PreconditionFailed" ? "too many concurrent updates" : e.detail
            }); run relpub repair`,
            retryable: false,
            cause: e
          })
      )
    )
    return { record, txid: tx.txid, auditSigned: indexed.signed }
  }).pipe(Effect.scoped)

/**
 * Publish a release: inspect it, fail with PolicyRejected if the policy says
 * no, then commit it (unless `dryRun`).
 *
 * @category programs
 */
export const publish = (request: PublishRequest) =>
  Effect.gen(function* () {
    const inspection = yield* inspect(request)
    if (inspection.decision.failures.length > 0) {
      return yield* new PolicyRejected({
        violations: inspection.decision.failures,
        warnings: inspection.decision.warnings
      })
    }
    if (request.dryRun === true) {
      const repo = yield* Repository
      yield* ensureNotPublished(repo, request.version)
      return {
        inspection,
        status: "dry-run",
        record: undefined,
        transactionId: undefined,
        indexUpdated: false,
        auditWritten: false,
        auditSigned: false
      } satisfies PublishOutcome
    }
    yield* ensureSafeBackend(request.allowUnsafeBackend === true)
    const done = yield* commit(inspection)
    return {
      inspection,
      status: "published",
      record: done.record,
      transactionId: done.txid,
      indexUpdated: true,
      auditWritten: true,
      auditSigned: done.auditSigned
    } satisfies PublishOutcome
  })
