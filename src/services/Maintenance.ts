import { Clock, Effect, Either, Option, Schema } from "effect"
import { StorageError } from "../domain/Errors.ts"
import { type AuditRecord, Keys, ReleaseRecord } from "../domain/Records.ts"
import { cacheProbes, GUARANTEES_KEY, guaranteeProbes, type Probe } from "./Guarantees.ts"
import { canonicalVersion, compareVersions } from "../domain/Version.ts"
import { Hasher } from "./Hasher.ts"
import { bookkeepingAudit, indexEntryOf, readIndex, recordInIndex } from "./Publisher.ts"
import { Repository } from "./Repository.ts"
import { RuntimeInfo } from "./Runtime.ts"
import { Signer } from "./Signer.ts"
import { decodeClaim, isStale, rollBackAttempt } from "./Transaction.ts"

const iso = (ms: number) => new Date(ms).toISOString()

/** What `repair` found and did. */
export interface RepairReport {
  readonly rolledBack: ReadonlyArray<string>
  readonly cleaned: ReadonlyArray<string>
  readonly indexed: ReadonlyArray<string>
  readonly liveClaims: ReadonlyArray<string>
  /** Release records whose files are not all in place: left out of the index. */
  readonly incomplete: ReadonlyArray<string>
  readonly auditKey: string | undefined
}

const decodeRecord = (bytes: Uint8Array) =>
  Schema.decodeUnknownEither(Schema.parseJson(ReleaseRecord))(new TextDecoder().decode(bytes))

/** Version directories under `releases/`, and which of them hold a release record. */
const releaseDirectories = Effect.gen(function* () {
  const repo = yield* Repository
  const objects = yield* repo.list("releases/")
  const all = new Set<string>()
  const committed = new Set<string>()
  for (const o of objects) {
    const version = o.key.split("/")[1]
    if (version === undefined || version === "") continue
    all.add(version)
    if (o.key === Keys.releaseRecord(version)) committed.add(version)
  }
  return { all: [...all], committed: [...committed] }
})

/** Whether every file a release record lists is in place with its recorded size. */
const filesInPlace = (record: ReleaseRecord) =>
  Effect.gen(function* () {
    const repo = yield* Repository
    const found = yield* Effect.forEach(
      record.files,
      (f) => repo.head(Keys.releaseFile(record.version, f.path)),
      { concurrency: 8 }
    )
    const missing = record.files.filter((f, i) => {
      const o = found[i]!
      return Option.isNone(o) || o.value.size !== f.size
    })
    return missing.map((f) => f.path)
  })

/**
 * Bring the repository back to a state where the invariants hold: roll back
 * attempts whose claim is stale (or every attempt, with `force`), remove
 * staging areas no claim owns, and add committed releases the index misses.
 * Appends a `repair` audit record when it changed anything.
 *
 * @category programs
 */
export const repair = (options: { readonly force?: boolean } = {}) =>
  Effect.gen(function* () {
    const repo = yield* Repository
    const runtime = yield* RuntimeInfo
    const hasher = yield* Hasher
    const signer = yield* Signer
    const rolled: Array<string> = []
    const cleaned: Array<string> = []
    const indexed: Array<string> = []
    const live: Array<string> = []
    const owned = new Set<string>()
    // Staging areas are listed before claims: a claim is created before its
    // staging, so a publish starting meanwhile shows up in the claim list.
    const staging = yield* repo.list(Keys.stagingRoot)

    for (const object of yield* repo.list(Keys.claimsPrefix)) {
      const stored = yield* repo.read(object.key)
      if (Option.isNone(stored)) continue
      const claim = decodeClaim(stored.value.bytes)
      if (Either.isLeft(claim)) {
        yield* repo
          .remove(object.key, stored.value.etag)
          .pipe(Effect.catchTag("PreconditionFailed", () => Effect.void))
        cleaned.push(object.key)
        continue
      }
      const c = claim.right
      if (options.force !== true && !(yield* isStale(c))) {
        live.push(`${c.version} (${c.host} pid ${c.pid})`)
        owned.add(c.staging_prefix)
        continue
      }
      const committed = Option.isSome(yield* repo.head(Keys.releaseRecord(c.version)))
      yield* rollBackAttempt(
        repo,
        { version: c.version, stagePrefix: c.staging_prefix, claimKey: object.key },
        stored.value.etag,
        !committed
      )
      ;(committed ? cleaned : rolled).push(c.version)
    }

    // Files of a version with neither a record nor a claim: an upload of a
    // rolled-back attempt that landed after its rollback. The claim is looked
    // up again right before, in case a publish of the version just started.
    const directories = yield* releaseDirectories
    for (const version of directories.all) {
      if (directories.committed.includes(version)) continue
      if (Option.isSome(yield* repo.head(Keys.claim(canonicalVersion(version))))) continue
      if (Option.isSome(yield* repo.head(Keys.releaseRecord(version)))) continue
      yield* repo.removePrefix(Keys.releasePrefix(version))
      cleaned.push(Keys.releasePrefix(version))
    }

    const orphans = new Set(staging.map((o) => o.key.split("/").slice(0, 3).join("/") + "/"))
    for (const prefix of orphans) {
      if (owned.has(prefix)) continue
      yield* repo.removePrefix(prefix)
      cleaned.push(prefix)
    }

    if (repo.sweep !== undefined) cleaned.push(...(yield* repo.sweep))

    // Releases committed by a publisher that died before updating the index.
    const { index } = yield* readIndex(repo)
    const known = new Set(index.releases.map((r) => r.version))
    const missing = directories.committed.filter((v) => !known.has(v)).sort(compareVersions)
    const incomplete: Array<string> = []
    for (const version of missing) {
      const stored = yield* repo.read(Keys.releaseRecord(version))
      if (Option.isNone(stored)) continue
      const record = decodeRecord(stored.value.bytes)
      if (Either.isLeft(record)) {
        yield* Effect.logWarning(
          `${Keys.releaseRecord(version)} cannot be decoded; left out of the index`
        )
        continue
      }
      const recordSha = hasher.hashBytes(stored.value.bytes)
      const r = record.right
      // A record that landed after its attempt was rolled back (a request
      // delayed past the claim's lease and grace) has no files: never index it.
      const absent = yield* filesInPlace(r)
      if (absent.length > 0) {
        yield* Effect.logWarning(
          `${Keys.releaseRecord(version)} lists files that are missing or of another size ` +
            `(${absent.slice(0, 5).join(", ")}${absent.length > 5 ? ", ..." : ""}); left out of ` +
            `the index`
        )
        incomplete.push(version)
        continue
      }
      const txid = yield* runtime.newId
      yield* recordInIndex(
        indexEntryOf(r, recordSha),
        (previous, sequence, now): AuditRecord => ({
          schema: "relpub/audit/v1",
          audit_id: `${txid}-audit`,
          sequence,
          event: "publish",
          version,
          timestamp: iso(now),
          machine_id: runtime.host,
          previous,
          release_record_sha256: recordSha,
          metadata: {
            sha256: r.sha256,
            sbom_id: r.sbom_id,
            slsa_id: r.slsa_id,
            provenance_hash: r.provenance_hash,
            signed: r.signed,
            encrypted: r.encrypted
          },
          verification: r.verification,
          validation: r.validation,
          publication: {
            artifacts_published: r.files.length,
            total_bytes: r.size_bytes,
            repository_type: repo.kind,
            policy_mode: r.policy_mode,
            transaction_id: r.transaction_id
          },
          signing_key_id: r.signing_key_id,
          details: "indexed by relpub repair after an interrupted publish"
        }),
        { record: Keys.auditRecord(version), signature: Keys.auditSignature(version) }
      )
      indexed.push(version)
    }

    let auditKey: string | undefined
    if (rolled.length + cleaned.length > 0) {
      const txid = yield* runtime.newId
      auditKey = Keys.repairAuditRecord(txid)
      const rolledBack = rolled.join(", ") || "-"
      const details = `rolled back: ${rolledBack}; cleaned: ${cleaned.join(", ") || "-"}`
      yield* recordInIndex(
        undefined,
        (previous, sequence, now) =>
          bookkeepingAudit({
            event: "repair",
            txid,
            version: "-",
            timestamp: iso(now),
            machineId: runtime.host,
            previous,
            sequence,
            repositoryType: repo.kind,
            signingKeyId: Option.isSome(signer) ? signer.value.keyId : null,
            details
          }),
        { record: auditKey, signature: Keys.repairAuditSignature(txid) }
      )
    }
    return {
      rolledBack: rolled,
      cleaned,
      indexed,
      liveClaims: live,
      incomplete,
      auditKey
    } satisfies RepairReport
  }).pipe(
    Effect.mapError((e) =>
      e._tag === "PreconditionFailed"
        ? new StorageError({
            operation: "swap",
            key: e.key,
            detail: "too many concurrent updates",
            retryable: true
          })
        : e
    )
  )

/** The release record of `version`, if published. */
export const showRelease = (version: string) =>
  Effect.gen(function* () {
    const repo = yield* Repository
    const stored = yield* repo.read(Keys.releaseRecord(version))
    if (Option.isNone(stored)) return Option.none()
    const record = decodeRecord(stored.value.bytes)
    if (Either.isLeft(record)) {
      return yield* new StorageError({
        operation: "read",
        key: Keys.releaseRecord(version),
        detail: "release.json cannot be decoded",
        retryable: false
      })
    }
    const signature = yield* repo.head(Keys.releaseSignature(version))
    return Option.some({ record: record.right, signed: Option.isSome(signature) })
  })

export type { Probe }

/**
 * Probe the repository for the guarantees relpub relies on, writing only
 * under `.relpub/doctor/<id>/` and removing it afterwards.
 *
 * @category programs
 */
export const doctor = Effect.gen(function* () {
  const repo = yield* Repository
  const runtime = yield* RuntimeInfo
  const id = yield* runtime.newId
  const prefix = `.relpub/doctor/${id}/`
  const probes: Array<Probe> = []
  const bytes = (s: string) => new TextEncoder().encode(s)
  const run = <R>(name: string, body: Effect.Effect<string, unknown, R>) =>
    body.pipe(
      Effect.match({
        onFailure: (e) =>
          probes.push({ name, ok: false, detail: e instanceof Error ? e.message : String(e) }),
        onSuccess: (detail) => probes.push({ name, ok: true, detail })
      })
    )
  const start = yield* Clock.currentTimeMillis
  yield* run("reachable", Effect.as(repo.list(Keys.claimsPrefix), `${repo.kind} ${repo.location}`))
  yield* run(
    "list after write",
    Effect.gen(function* () {
      yield* repo.create(`${prefix}listed`, bytes("x"))
      const listed = yield* repo.list(prefix)
      if (!listed.some((o) => o.key === `${prefix}listed`))
        return yield* Effect.fail("written object not listed")
      return "a new object is listed at once"
    })
  )
  // Every guarantee probe that reached a verdict: when all did, the cached
  // finding publish relies on is replaced by this one.
  const verdicts: Array<Probe> = []
  const guarantees = guaranteeProbes(repo, prefix)
  for (const probe of guarantees) {
    yield* run(
      probe.name,
      probe.body.pipe(
        Effect.tap((detail) => verdicts.push({ name: probe.name, ok: true, detail })),
        Effect.tapErrorTag("Verdict", (v) =>
          Effect.sync(() => verdicts.push({ name: probe.name, ok: false, detail: v.message }))
        )
      )
    )
  }
  if (repo.kind !== "local" && repo.kind !== "memory" && verdicts.length === guarantees.length) {
    yield* run(
      "guarantees cached",
      Effect.as(cacheProbes(repo, verdicts, true), `${GUARANTEES_KEY} updated`)
    )
  }
  yield* run(
    "index readable",
    Effect.map(readIndex(repo), ({ index }) => `${index.total_releases} releases`)
  )
  yield* run(
    "no stale claims",
    Effect.gen(function* () {
      const stale: Array<string> = []
      for (const o of yield* repo.list(Keys.claimsPrefix)) {
        const stored = yield* repo.read(o.key)
        if (Option.isNone(stored)) continue
        const c = decodeClaim(stored.value.bytes)
        if (Either.isLeft(c) || (yield* isStale(c.right))) stale.push(o.key)
      }
      if (stale.length > 0)
        return yield* Effect.fail(`stale: ${stale.join(", ")} (run relpub repair)`)
      return "none"
    })
  )
  yield* repo.removePrefix(prefix).pipe(Effect.ignore)
  const elapsed = (yield* Clock.currentTimeMillis) - start
  return { probes, elapsedMillis: elapsed }
})
