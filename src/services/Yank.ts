import { Data, Effect, Either, Option } from "effect"
import { StorageError, UsageError } from "../domain/Errors.ts"
import { type IndexEntry, Keys, type RepositoryIndex, type YankMark } from "../domain/Records.ts"
import { parseVersion, versionSpellings } from "../domain/Version.ts"
import { bookkeepingAudit, readIndex, updateIndex } from "./Publisher.ts"
import { Repository, type RepositoryShape } from "./Repository.ts"
import { RuntimeInfo } from "./Runtime.ts"
import { Signer } from "./Signer.ts"

/**
 * The version has no release record, under either spelling (exit 33, as for
 * `show` and `fetch`).
 *
 * @category errors
 */
export class NotPublished extends Data.TaggedError("NotPublished")<{
  readonly version: string
  readonly repository: string
}> {
  override get message(): string {
    return `version ${this.version} is not published in ${this.repository}`
  }
}

/**
 * What to yank (or, with `undo`, un-yank), and why.
 *
 * @category models
 */
export interface YankRequest {
  readonly version: string
  readonly reason: string
  readonly undo?: boolean | undefined
}

/**
 * What `yank` did. `audit_record` is null when nothing changed (the version
 * was already in the state asked for).
 *
 * @category models
 */
export interface YankOutcome {
  readonly version: string
  readonly status: "yanked" | "unyanked" | "already-yanked" | "not-yanked"
  readonly yanked: YankMark | null
  readonly audit_record: string | null
  readonly audit_signed: boolean
  readonly index_serial: number
}

/** Longest `--reason` accepted, in characters. */
export const MAX_REASON_LENGTH = 1024

const iso = (ms: number) => new Date(ms).toISOString()

/** The index entry of `version`: as spelled, else under its other spelling (`1.2.0` / `v1.2.0`). */
export const findEntry = (index: RepositoryIndex, version: string): IndexEntry | undefined =>
  index.releases.find((r) => r.version === version) ??
  index.releases.find((r) => versionSpellings(version).includes(r.version))

/** The yank mark of `version` in the repository's index, if it is yanked. */
export const yankMarkOf = (repo: RepositoryShape, version: string) =>
  Effect.map(readIndex(repo), ({ index }) =>
    Option.fromNullable(index.releases.find((r) => r.version === version)?.yanked)
  )

const withoutMark = ({ yanked: _yanked, ...entry }: IndexEntry): IndexEntry => entry

/**
 * The version has a release record but no index entry: a publish that died before its index update.
 */
const committedSpelling = (repo: RepositoryShape, version: string) =>
  Effect.map(
    Effect.forEach(versionSpellings(version), (v) =>
      Effect.map(repo.head(Keys.releaseRecord(v)), (o) => (Option.isSome(o) ? [v] : []))
    ),
    (found) => found.flat()[0]
  )

/**
 * Mark a published version yanked (with `undo`, remove the mark). Nothing
 * under `releases/<version>/` is touched: the mark lives in index.json, and a
 * signed `yank` (`unyank`) audit record chained after the current head
 * records it, both in one compare-and-swap of the index. Asking for the state
 * the version is already in changes nothing and writes no audit record.
 *
 * Fails with NotPublished (33) for a version without a release record, a
 * UsageError (2) for a malformed version or reason, or when the index is
 * signed and no signing key was given (the new index would be unsigned), and
 * a StorageError (36) for a release committed but not yet indexed.
 *
 * @category programs
 */
export const yank = (request: YankRequest) =>
  Effect.gen(function* () {
    const { version } = request
    if (Either.isLeft(parseVersion(version))) {
      return yield* new UsageError({
        message: `${JSON.stringify(version)} is not a semantic version (e.g. 1.4.0 or v1.4.0)`
      })
    }
    const reason = request.reason.trim()
    if (reason.length === 0 || reason.length > MAX_REASON_LENGTH) {
      return yield* new UsageError({
        message: `--reason must say why, in 1 to ${MAX_REASON_LENGTH} characters`
      })
    }
    const repo = yield* Repository
    const runtime = yield* RuntimeInfo
    const signer = yield* Signer
    const undo = request.undo === true
    const event = undo ? "unyank" : "yank"
    const txid = yield* runtime.newId
    const auditKey = Keys.yankAuditRecord(event, txid)

    const result = yield* updateIndex(
      (index, now) =>
        Effect.gen(function* () {
          const entry = findEntry(index, version)
          if (entry === undefined) {
            const committed = yield* committedSpelling(repo, version)
            if (committed === undefined) {
              return yield* new NotPublished({ version, repository: repo.location })
            }
            return yield* new StorageError({
              operation: "read",
              key: Keys.index,
              detail:
                `${committed} is committed but not in index.json (a publish that did not ` +
                `finish); ` +
                `run relpub repair, then ${event} it`,
              retryable: false
            })
          }
          if (undo ? entry.yanked === undefined : entry.yanked !== undefined) return undefined
          if (Option.isNone(signer) && index.signatures.length > 0) {
            return yield* new UsageError({
              message:
                `index.json is signed: pass --signing-key to ${event} ${entry.version} ` +
                "(without it the index would be left unsigned)"
            })
          }
          const at = iso(now)
          const changed = undo ? withoutMark(entry) : { ...entry, yanked: { at, reason } }
          return {
            releases: index.releases.map((r) => (r === entry ? changed : r)),
            audit: (previous, sequence) =>
              bookkeepingAudit({
                event,
                txid,
                version: entry.version,
                timestamp: at,
                machineId: runtime.host,
                previous,
                sequence,
                entry,
                repositoryType: repo.kind,
                signingKeyId: Option.isSome(signer) ? signer.value.keyId : null,
                details: reason
              })
          }
        }),
      { record: auditKey, signature: Keys.yankAuditSignature(event, txid) }
    ).pipe(
      Effect.mapError((e) =>
        e._tag === "PreconditionFailed"
          ? new StorageError({
              operation: "swap",
              key: Keys.index,
              detail: "too many concurrent updates",
              retryable: true
            })
          : e
      )
    )

    const entry = findEntry(result.index, version)!
    return {
      version: entry.version,
      status: result.changed
        ? undo
          ? "unyanked"
          : "yanked"
        : undo
          ? "not-yanked"
          : "already-yanked",
      yanked: entry.yanked ?? null,
      audit_record: result.changed ? auditKey : null,
      audit_signed: result.signed,
      index_serial: result.index.serial
    } satisfies YankOutcome
  })
