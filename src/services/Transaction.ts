import { Clock, Effect, Either, Option, Schema } from "effect"
import { Data } from "effect"
import {
  type AlreadyExists,
  RolledBack,
  type StorageError,
  VersionExists
} from "../domain/Errors.ts"

class AlreadyExistsMarker extends Data.TaggedError("AlreadyExistsMarker")<{}> {}
import { Claim, claimGraceMillis, encodeJson, Keys } from "../domain/Records.ts"
import { canonicalVersion, versionSpellings } from "../domain/Version.ts"
import { Repository, type RepositoryShape } from "./Repository.ts"
import { RuntimeInfo } from "./Runtime.ts"

/** A claimed version: this publisher alone may write `releases/<version>/` now. */
export interface Transaction {
  readonly version: string
  readonly txid: string
  readonly claimKey: string
  readonly stagePrefix: string
  readonly releasePrefix: string
  readonly leaseMillis: number
  /** The claim as last written, and its token for the next renewal. */
  claim: Claim
  claimEtag: string
  /** Set once anything may have been written under `releasePrefix`. */
  touchedRelease: boolean
  /** Set once `release.json` exists: from then on the version is published. */
  committed: boolean
  /**
   * Set when the `release.json` write failed in a way that may still land:
   * the attempt is left to `repair` (which rolls it forward or back once the
   * claim is stale) instead of being rolled back under a record in flight.
   */
  outcomeUnknown: boolean
}

const iso = (ms: number) => new Date(ms).toISOString()

/** Fails with VersionExists when a release record exists under any spelling of the version. */
export const ensureNotPublished = (repo: RepositoryShape, version: string) =>
  Effect.forEach(
    versionSpellings(version),
    (spelling) =>
      repo.head(Keys.releaseRecord(spelling)).pipe(
        Effect.flatMap(
          Option.match({
            onNone: () => Effect.void,
            onSome: () =>
              Effect.fail(
                new VersionExists({
                  version,
                  reason: "published",
                  detail: `${Keys.releaseRecord(spelling)} exists`
                })
              )
          })
        )
      ),
    { discard: true }
  )

/**
 * Whether a claim belongs to a publisher that is gone: its lease and the grace
 * after it are over, or its process is dead on this host.
 */
export const isStale = (claim: Claim) =>
  Effect.gen(function* () {
    const runtime = yield* RuntimeInfo
    const now = yield* Clock.currentTimeMillis
    if (Date.parse(claim.lease_expires_at) + claimGraceMillis(claim) <= now) return true
    if (claim.host === runtime.host && claim.pid !== runtime.pid)
      return !(yield* runtime.isAlive(claim.pid))
    return false
  })

export const decodeClaim = (bytes: Uint8Array) =>
  Schema.decodeUnknownEither(Schema.parseJson(Claim))(new TextDecoder().decode(bytes))

/**
 * Undo an attempt that never committed: its staged files, anything it
 * promoted, and finally its claim (last, so a crash here leaves a claim that
 * `repair` finds again).
 */
export const rollBackAttempt = (
  repo: RepositoryShape,
  attempt: { readonly version: string; readonly stagePrefix: string; readonly claimKey: string },
  claimEtag: string | undefined,
  touchedRelease: boolean
) =>
  Effect.gen(function* () {
    if (touchedRelease) {
      const record = yield* repo.head(Keys.releaseRecord(attempt.version))
      if (Option.isNone(record)) yield* repo.removePrefix(Keys.releasePrefix(attempt.version))
    }
    // In-place staging stages into releases/<version>/: handled above, and must
    // survive when the attempt committed.
    if (attempt.stagePrefix !== Keys.releasePrefix(attempt.version))
      yield* repo.removePrefix(attempt.stagePrefix)
    yield* repo
      .remove(attempt.claimKey, claimEtag)
      .pipe(Effect.catchTag("PreconditionFailed", () => Effect.void))
  })

const takeOverStale = (repo: RepositoryShape, version: string, claimKey: string) =>
  Effect.gen(function* () {
    const existing = yield* repo.read(claimKey)
    if (Option.isNone(existing)) return true
    const claim = decodeClaim(existing.value.bytes)
    const stale = Either.isRight(claim) ? yield* isStale(claim.right) : false
    if (!stale) {
      const who = Either.isRight(claim)
        ? `claimed by ${claim.right.host} pid ${claim.right.pid} until ` +
          `${claim.right.lease_expires_at}`
        : `${claimKey} exists`
      return yield* new VersionExists({ version, reason: "claimed", detail: who })
    }
    yield* Effect.logWarning(`rolling back the stale claim ${claimKey}`)
    const c = Either.getOrThrow(claim)
    yield* rollBackAttempt(
      repo,
      { version: c.version, stagePrefix: c.staging_prefix, claimKey },
      existing.value.etag,
      true
    )
    return true
  })

/**
 * Claim `version` with a create-only write of its claim record, taking over a
 * stale claim once. Losing to a live claim or finding the version published
 * fails with VersionExists.
 */
export const claim = (version: string, leaseMillis: number) =>
  Effect.gen(function* () {
    const repo = yield* Repository
    const runtime = yield* RuntimeInfo
    const txid = yield* runtime.newId
    const now = yield* Clock.currentTimeMillis
    const claimKey = Keys.claim(canonicalVersion(version))
    const stagePrefix =
      repo.stagingMode === "in-place" ? Keys.releasePrefix(version) : Keys.stagingPrefix(txid)
    const record: Claim = {
      schema: "relpub/claim/v1",
      version,
      transaction_id: txid,
      host: runtime.host,
      pid: runtime.pid,
      created_at: iso(now),
      lease_expires_at: iso(now + leaseMillis),
      staging_prefix: stagePrefix
    }
    yield* ensureNotPublished(repo, version)
    const create = repo.create(claimKey, encodeJson(record))
    // A create whose response was lost and was retried finds our own claim.
    const ours = repo.read(claimKey).pipe(
      Effect.map(
        Option.filter((o) => {
          const c = decodeClaim(o.bytes)
          return Either.isRight(c) && c.right.transaction_id === txid
        })
      )
    )
    const created = yield* create.pipe(
      Effect.catchTag("AlreadyExists", () =>
        Effect.flatMap(
          ours,
          Option.match({
            onSome: (o) => Effect.succeed({ key: claimKey, size: o.bytes.length, etag: o.etag }),
            onNone: () => Effect.fail(new AlreadyExistsMarker())
          })
        )
      ),
      Effect.catchTag("AlreadyExistsMarker", () =>
        takeOverStale(repo, version, claimKey).pipe(
          Effect.zipRight(create),
          Effect.catchTag("AlreadyExists", () =>
            Effect.fail(
              new VersionExists({
                version,
                reason: "claimed",
                detail: "another publisher claimed it first"
              })
            )
          )
        )
      )
    )
    // A publisher that committed and released its claim just before ours was created.
    yield* ensureNotPublished(repo, version).pipe(
      Effect.tapError(() => repo.remove(claimKey, created.etag).pipe(Effect.ignore))
    )
    const tx: Transaction = {
      version,
      txid,
      claimKey,
      stagePrefix,
      releasePrefix: Keys.releasePrefix(version),
      leaseMillis,
      claim: record,
      claimEtag: created.etag,
      touchedRelease: repo.stagingMode === "in-place",
      committed: false,
      outcomeUnknown: false
    }
    // Objects of an attempt that was rolled back while one of its uploads was
    // still in flight: no record (checked above), no claim but ours.
    const leftovers = yield* repo
      .list(tx.releasePrefix)
      .pipe(Effect.tapError(() => repo.remove(claimKey, created.etag).pipe(Effect.ignore)))
    if (leftovers.length > 0) {
      yield* Effect.logWarning(
        `removing ${leftovers.length} leftover objects under ${tx.releasePrefix} (no release ` +
          `record)`
      )
      tx.touchedRelease = true
      yield* repo.removePrefix(tx.releasePrefix)
    }
    return tx
  })

/**
 * Extend the claim's lease by its length, with a compare-and-swap on the
 * claim as last written: fails with RolledBack (37) when the claim was taken
 * over, rolled back, or its lease already ran out.
 */
export const renewClaim = (repo: RepositoryShape, tx: Transaction) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const lost = (why: string) =>
      new RolledBack({
        step: "commit",
        detail: `the claim ${tx.claimKey} ${why} (raise --lease-seconds if the publish is slow)`
      })
    if (Date.parse(tx.claim.lease_expires_at) <= now) return yield* lost("expired")
    const renewed: Claim = {
      ...tx.claim,
      renewed_at: iso(now),
      lease_expires_at: iso(now + tx.leaseMillis)
    }
    const written = yield* repo.swap(tx.claimKey, encodeJson(renewed), tx.claimEtag).pipe(
      Effect.catchTag("PreconditionFailed", () => Effect.fail(lost("was taken over or removed"))),
      Effect.mapError((e) => (e._tag === "RolledBack" ? e : rolledBack("commit")(e)))
    )
    tx.claim = renewed
    tx.claimEtag = written.etag
    yield* Effect.logDebug(`renewed ${tx.claimKey} until ${renewed.lease_expires_at}`)
  }).pipe(
    // Interrupted mid-write, the claim could change without `tx` knowing it.
    Effect.uninterruptible
  )

/** Map a storage failure inside the transaction to "rolled back" (exit 37). */
export const rolledBack = (step: RolledBack["step"]) => (e: StorageError | AlreadyExists) =>
  new RolledBack({
    step,
    detail:
      e._tag === "AlreadyExists" ? `${e.key} already holds objects (run relpub repair)` : e.message,
    cause: e
  })
