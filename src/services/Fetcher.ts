import { randomBytes } from "node:crypto"
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import { Effect, Either, Exit, Option, Schema } from "effect"
import { collisions } from "../domain/ArtifactPath.ts"
import { UsageError } from "../domain/Errors.ts"
import type { ManifestFile } from "../domain/Manifest.ts"
import { Keys, YankMark } from "../domain/Records.ts"
import { parseVersion } from "../domain/Version.ts"
import type { RawPublicKey } from "../verify/TrustedKeys.ts"
import { Repository } from "./Repository.ts"
import { yankMarkOf } from "./Yank.ts"
import {
  checkSignature,
  decodeReleaseRecord,
  releaseHashProblem,
  RepoReason,
  unsafePaths
} from "./RepoVerifier.ts"

/**
 * A release failed a check before anything reached the destination (exit 30).
 * `subject` names the file or record; `reason` is verify-repo's vocabulary.
 *
 * @category errors
 */
export class FetchRejected extends Schema.TaggedError<FetchRejected>()("FetchRejected", {
  version: Schema.String,
  subject: Schema.String,
  reason: RepoReason,
  detail: Schema.String
}) {
  override get message(): string {
    return `fetch of ${this.version} refused: ${this.subject}: ${this.reason}: ${this.detail}`
  }
}

/**
 * The repository has no release record for the version (exit 33).
 *
 * @category errors
 */
export class ReleaseNotFound extends Schema.TaggedError<ReleaseNotFound>()("ReleaseNotFound", {
  version: Schema.String,
  repository: Schema.String
}) {
  override get message(): string {
    return `version ${this.version} is not published in ${this.repository}`
  }
}

/**
 * The version is yanked (index.json marks it) and the request did not allow
 * yanked versions (exit 33: withdrawn from use, like a version not published).
 *
 * @category errors
 */
export class ReleaseYanked extends Schema.TaggedError<ReleaseYanked>()("ReleaseYanked", {
  version: Schema.String,
  yanked: YankMark
}) {
  override get message(): string {
    return (
      `version ${this.version} was yanked at ${this.yanked.at} (${this.yanked.reason}); ` +
      "pass --allow-yanked to fetch it anyway"
    )
  }
}

/** @category models */
export interface FetchRequest {
  readonly version: string
  /** Destination directory: must not exist, or be empty. */
  readonly to: string
  readonly keys: ReadonlyArray<RawPublicKey>
  /** Fetch the version even when index.json marks it yanked. */
  readonly allowYanked?: boolean | undefined
}

/** @category models */
export interface FetchOutcome {
  readonly version: string
  readonly to: string
  readonly sha256: string
  readonly size_bytes: number
  readonly files: ReadonlyArray<ManifestFile>
  /** The trusted key that signed the release record, as verify-repo describes it. */
  readonly signature: string
  /** The yank mark, when the version is yanked and was fetched with `allowYanked`. */
  readonly yanked: YankMark | null
}

const DOWNLOAD_CONCURRENCY = 4

const usage = (to: string, what: string) => (e: unknown) =>
  new UsageError({ message: `--to ${to}: ${what} (${e instanceof Error ? e.message : String(e)})` })

const entriesOf = (dir: string) =>
  fsp.readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return undefined
    throw e
  })

/** The destination must be absent or an empty directory; nothing is created here. */
const checkDestination = (to: string) =>
  Effect.flatMap(
    Effect.tryPromise({ try: () => entriesOf(to), catch: usage(to, "not a readable directory") }),
    (entries) =>
      entries === undefined || entries.length === 0
        ? Effect.void
        : Effect.fail(new UsageError({ message: `--to ${to}: exists and is not empty` }))
  )

// The highest missing ancestor of `dir`, which `mkdir -p` would create (undefined when `dir`
// exists).
const firstMissing = async (dir: string): Promise<string | undefined> => {
  let missing: string | undefined
  for (let d = dir; ; d = nodePath.dirname(d)) {
    if ((await fsp.stat(d).catch(() => undefined)) !== undefined) return missing
    missing = d
    if (nodePath.dirname(d) === d) return missing
  }
}

/**
 * A fresh directory beside `to` (same file system, so the final move is a
 * rename). Released on failure or interruption together with any parent
 * directory it had to create, so a refused fetch leaves nothing behind.
 */
const stagingBeside = (to: string) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const parent = nodePath.dirname(to)
        const created = await firstMissing(parent)
        await fsp.mkdir(parent, { recursive: true })
        const dir = nodePath.join(
          parent,
          `.${nodePath.basename(to)}.relpub-fetch-${randomBytes(6).toString("hex")}`
        )
        await fsp.mkdir(dir)
        return { dir, created }
      },
      catch: usage(to, "cannot create a temporary directory beside it")
    }),
    ({ created, dir }, exit) =>
      Effect.promise(async () => {
        await fsp.rm(dir, { recursive: true, force: true })
        if (Exit.isFailure(exit) && created !== undefined)
          await fsp.rm(created, { recursive: true, force: true })
      })
  )

/**
 * Moves the verified files into place: one rename when `to` is absent, else entry by entry into the
 * empty `to`.
 */
const moveInto = (staged: string, to: string) =>
  Effect.tryPromise({
    try: async () => {
      const entries = await entriesOf(to)
      if (entries === undefined) return fsp.rename(staged, to)
      if (entries.length > 0) throw new Error("it was filled while the release was downloaded")
      for (const name of await fsp.readdir(staged)) {
        await fsp.rename(nodePath.join(staged, name), nodePath.join(to, name))
      }
    },
    catch: usage(to, "cannot move the verified files into place")
  })

/**
 * Downloads a published release into `to`, the consumer side of invariant 6:
 * the release record must be signed by a trusted key, and every file must
 * match the record's SHA-256 and size (and the record its release hash)
 * before any of them appears in `to`. On any failure `to` is left as it was.
 *
 * @category programs
 */
export const fetchRelease = (request: FetchRequest) =>
  Effect.gen(function* () {
    const repo = yield* Repository
    const { version, keys } = request
    const to = nodePath.resolve(request.to)
    if (Either.isLeft(parseVersion(version))) {
      const message = `${JSON.stringify(version)} is not a semantic version (e.g. 1.4.0 or v1.4.0)`
      return yield* new UsageError({ message })
    }
    const reject = (subject: string, reason: RepoReason, detail: string) =>
      new FetchRejected({ version, subject, reason, detail })
    yield* checkDestination(to)

    const recordKey = Keys.releaseRecord(version)
    const stored = yield* repo.read(recordKey)
    if (Option.isNone(stored))
      return yield* new ReleaseNotFound({ version, repository: repo.location })
    const bytes = stored.value.bytes
    const decoded = decodeReleaseRecord(bytes)
    if (Either.isLeft(decoded)) return yield* reject(recordKey, "malformed", decoded.left)
    const record = decoded.right
    const signature = Option.map(yield* repo.read(Keys.releaseSignature(version)), (o) => o.bytes)
    const signed = checkSignature(recordKey, bytes, signature, record.signing_key_id, keys)
    if (!signed.ok) return yield* reject(recordKey, signed.reason, signed.detail)
    if (record.version !== version)
      return yield* reject(recordKey, "version-mismatch", `records ${record.version}`)
    const unsafe = [
      ...unsafePaths(record.files),
      ...collisions(record.files.map((f) => f.path)).map(
        (g) => `${g.join(", ")} collide on case-insensitive disks`
      )
    ]
    if (unsafe.length > 0) return yield* reject(recordKey, "unsafe-path", unsafe.join("; "))
    const hashProblem = releaseHashProblem(record)
    if (hashProblem !== undefined) return yield* reject(recordKey, "digest-mismatch", hashProblem)
    // Without --allow-yanked an unreadable index fails the fetch: it cannot tell whether the
    // version was yanked.
    const yanked = Option.getOrNull(
      request.allowYanked === true
        ? yield* Effect.orElseSucceed(yankMarkOf(repo, version), () => Option.none())
        : yield* yankMarkOf(repo, version)
    )
    if (yanked !== null && request.allowYanked !== true)
      return yield* new ReleaseYanked({ version, yanked })

    const listed = new Map((yield* repo.list(Keys.releasePrefix(version))).map((o) => [o.key, o]))
    for (const f of record.files) {
      const info = listed.get(Keys.releaseFile(version, f.path))
      if (info === undefined)
        return yield* reject(f.path, "missing", `${Keys.releaseFile(version, f.path)} is missing`)
      if (info.size !== f.size) {
        const detail = `the repository holds ${info.size} bytes, the record says ${f.size}`
        return yield* reject(f.path, "size-mismatch", detail)
      }
    }

    // Every download runs to its end (no sibling is interrupted mid-write), so
    // the temporary directory is complete before it is removed or moved.
    const { dir: staged } = yield* stagingBeside(to)
    const results = yield* Effect.forEach(
      record.files,
      (f) =>
        Effect.gen(function* () {
          const local = nodePath.join(staged, ...f.path.split("/"))
          yield* Effect.tryPromise({
            try: () => fsp.mkdir(nodePath.dirname(local), { recursive: true }),
            catch: usage(to, `cannot create the directory of ${f.path}`)
          })
          const got = yield* repo.download(Keys.releaseFile(version, f.path), local)
          if (got.size !== f.size) {
            return yield* reject(
              f.path,
              "size-mismatch",
              `downloaded ${got.size} bytes, the record says ${f.size}`
            )
          }
          if (got.sha256 !== f.sha256) {
            const detail = `downloaded SHA-256 ${got.sha256}, the record says ${f.sha256}`
            return yield* reject(f.path, "digest-mismatch", detail)
          }
        }).pipe(Effect.either),
      { concurrency: DOWNLOAD_CONCURRENCY }
    )
    const failed = results.find(Either.isLeft)
    if (failed !== undefined) return yield* Effect.fail(failed.left)
    yield* moveInto(staged, to)

    return {
      version,
      to,
      sha256: record.sha256,
      size_bytes: record.size_bytes,
      files: record.files,
      signature: signed.detail,
      yanked
    } satisfies FetchOutcome
  }).pipe(Effect.scoped)
