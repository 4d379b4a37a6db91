// What the object-store repositories (S3, GCS, Azure) share: key layout,
// the retry policy, mapping SDK failures to StorageError once, hashing a file
// while it streams out, and writing a download durably.
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { dirname } from "node:path"
import { Transform, type Readable } from "node:stream"
import { Duration, Effect, Schedule, type Scope } from "effect"
import { AlreadyExists, StorageError, type StorageOperation } from "../../domain/Errors.ts"
import { type FileStamp, sameStamp, stampOf } from "../Hasher.ts"
import type { ObjectInfo } from "../Repository.ts"

/** Bytes read from a file per chunk while uploading (PERFORMANCE.md, recommendation 3). */
export const CHUNK_BYTES = 1024 * 1024
/** Multipart part / block size: 8 MiB, never below the S3 minimum of 5 MiB. */
export const PART_BYTES = 8 * 1024 * 1024
/** Parts in flight per upload (PERFORMANCE.md, recommendation 11). */
export const UPLOAD_CONCURRENCY = 2
/** Server-side copies and deletes in flight. */
export const SERVER_SIDE_CONCURRENCY = 8

/**
 * Bounded, jittered exponential backoff on retryable storage errors only.
 *
 * @category models
 */
export interface RetryPolicy {
  /** Total attempts, the first one included. */
  readonly attempts: number
  readonly base: Duration.DurationInput
  readonly cap: Duration.DurationInput
}

export const defaultRetry: RetryPolicy = { attempts: 5, base: "100 millis", cap: "5 seconds" }

/** Whether a failure is transient: only a StorageError marked `retryable`. */
export const isRetryable = (e: unknown): boolean =>
  e instanceof StorageError && e.retryable

/** The schedule behind {@link withRetry}: exponential from `base`, jittered, capped. */
export const retrySchedule = (policy: RetryPolicy) =>
  Schedule.exponential(policy.base).pipe(
    Schedule.jittered,
    Schedule.modifyDelay((delay) => Duration.min(delay, Duration.decode(policy.cap))),
    Schedule.intersect(Schedule.recurs(Math.max(0, policy.attempts - 1))),
    Schedule.whileInput(isRetryable)
  )

export const withRetry =
  (policy: RetryPolicy) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.retry(self, retrySchedule(policy))

const RETRYABLE_NETWORK_CODES = new Set([
  "ECONNRESET", "ETIMEDOUT", "EPIPE", "ECONNABORTED", "EAI_AGAIN", "ESOCKETTIMEDOUT"
])

/** HTTP statuses worth retrying: request timeout, throttling, server errors. */
export const isRetryableStatus = (status: number | undefined): boolean =>
  status === 408 || status === 429 || (status !== undefined && status >= 500 && status <= 599)

/** A network failure worth retrying (reset, timeout, "socket hang up"). */
export const isRetryableNetwork = (e: unknown): boolean => {
  for (let cause = e, depth = 0; cause instanceof Object && depth < 5; depth++) {
    const { code, name, message } = cause as { code?: unknown; name?: unknown; message?: unknown }
    if (typeof code === "string" && RETRYABLE_NETWORK_CODES.has(code)) return true
    if (name === "TimeoutError" || name === "RequestTimeout") return true
    if (typeof message === "string" && /socket hang up|ECONNRESET|ETIMEDOUT/.test(message)) return true
    cause = (cause as { cause?: unknown }).cause
  }
  return false
}

/** Thrown into an upload stream when the source file changes under it. */
export class SourceChanged extends Error {
  constructor(readonly path: string) {
    super(`${path} changed while it was being sent`)
  }
}

const findSourceChanged = (e: unknown): SourceChanged | undefined => {
  for (let cause = e, depth = 0; cause instanceof Object && depth < 5; depth++) {
    if (cause instanceof SourceChanged) return cause
    cause = (cause as { cause?: unknown }).cause ?? (cause as { originalError?: unknown }).originalError
  }
  return undefined
}

// Removes what may be a secret from a message: SAS signatures, credentials
// in URLs, account keys, bearer tokens.
export const scrub = (text: string): string =>
  text
    .replace(/([?&](?:sig|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token)=)[^&\s"']*/gi, "$1***")
    .replace(/(AccountKey|SharedAccessSignature)=[^;\s"']*/gi, "$1=***")
    .replace(/(\/\/)[^/@\s:]+:[^/@\s]+@/g, "$1***@")
    .replace(/(Bearer|SharedKey)\s+[^\s"']+/gi, "$1 ***")

/**
 * An SDK failure, read once at the edge: HTTP status and service error code
 * as the backend reports them. Only {@link toStorageError} lets it out.
 */
export class SdkFailure {
  constructor(
    readonly error: unknown,
    readonly status: number | undefined,
    readonly code: string | undefined
  ) {}
}

/** Runs an SDK call with the fiber's abort signal; failures become SdkFailure via `classify`. */
export const sdkCall = (classify: (e: unknown) => SdkFailure) =>
<A>(run: (signal: AbortSignal) => Promise<A>): Effect.Effect<A, SdkFailure> =>
  Effect.tryPromise({ try: run, catch: classify })

/**
 * The StorageError for an SDK failure: operation, key, HTTP status and code,
 * a scrubbed message and a `retryable` flag. The SDK error itself is not kept
 * (some carry request headers); `cause` holds only the classified fields.
 */
export const toStorageError = (operation: StorageOperation, key: string, retryableCodes: ReadonlyArray<string> = []) =>
(f: SdkFailure): StorageError => {
  const changed = findSourceChanged(f.error)
  if (changed !== undefined) {
    return new StorageError({ operation, key, detail: changed.message, retryable: false })
  }
  const { status, code } = f
  const prefix = [status === undefined ? undefined : `HTTP ${status}`, code].filter(Boolean).join(" ")
  const message = scrub((f.error as Error | undefined)?.message ?? String(f.error)).slice(0, 500)
  return new StorageError({
    operation,
    key,
    detail: prefix === "" ? message : `${prefix}: ${message}`,
    retryable: isRetryableStatus(status) || isRetryableNetwork(f.error) ||
      (code !== undefined && retryableCodes.includes(code)),
    cause: { status, code, message }
  })
}

/** Splits `items` into arrays of at most `size`. */
export const chunks = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size))

/** `root` as a key prefix: no leading slash, one trailing slash unless empty. */
export const rootPrefix = (prefix: string | undefined): string => {
  const trimmed = (prefix ?? "").replace(/^\/+|\/+$/g, "")
  return trimmed === "" ? "" : `${trimmed}/`
}

/** A prefix naming a directory, as promote takes them: with a trailing slash. */
export const asDirectory = (prefix: string): string =>
  prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`

export const byKey = (a: ObjectInfo, b: ObjectInfo): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)

export const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes)

/**
 * Promotion by server-side copy: refuses a destination that holds anything,
 * then copies each staged key (full keys under `fromPrefix`, as the publisher
 * passes them, or keys relative to it) with a create-only condition, so a
 * concurrent writer of the destination still makes it fail with AlreadyExists.
 */
export const promoteByCopy = (
  fromPrefix: string,
  toPrefix: string,
  keys: ReadonlyArray<string>,
  list: (prefix: string) => Effect.Effect<ReadonlyArray<ObjectInfo>, StorageError>,
  copy: (from: string, to: string) => Effect.Effect<void, AlreadyExists | StorageError>
): Effect.Effect<void, AlreadyExists | StorageError> => {
  const from = asDirectory(fromPrefix)
  const to = asDirectory(toPrefix)
  if (from === to) return Effect.void
  return list(to).pipe(
    Effect.flatMap((present) =>
      present.length > 0 ? Effect.fail(new AlreadyExists({ key: toPrefix })) : Effect.void
    ),
    Effect.zipRight(
      Effect.forEach(keys, (key) => {
        const rel = key.startsWith(from) ? key.slice(from.length) : key
        return copy(`${from}${rel}`, `${to}${rel}`)
      }, {
        concurrency: SERVER_SIDE_CONCURRENCY,
        discard: true
      })
    )
  )
}

/** A local file opened for upload, hashed as it streams out. */
export interface HashedSource {
  readonly stream: Readable
  readonly size: number
  /** SHA-256 hex of what went through `stream`; call after it ended. */
  readonly sha256: () => string
}

const openFailure = (path: string, key: string) => (e: unknown) =>
  new StorageError({
    operation: "upload",
    key,
    detail: `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    retryable: false
  })

/**
 * Opens `path` for an upload in this scope. The stream fails with
 * SourceChanged at its end, before the backend commits the object, when the
 * size, mtime or ctime moved, or the bytes read differ from the size.
 */
export const openHashedSource = (
  path: string,
  key: string
): Effect.Effect<HashedSource, StorageError, Scope.Scope> =>
  Effect.gen(function*() {
    const handle = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => fs.promises.open(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW),
        catch: openFailure(path, key)
      }),
      (h) => Effect.promise(() => h.close().catch(() => undefined))
    )
    const before: FileStamp = stampOf(
      yield* Effect.tryPromise({ try: () => handle.stat({ bigint: true }), catch: openFailure(path, key) })
    )
    const hash = createHash("sha256")
    let sent = 0
    const guard = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk)
        sent += chunk.length
        callback(null, chunk)
      },
      flush(callback) {
        handle.stat({ bigint: true }).then(
          (after) =>
            callback(sameStamp(before, stampOf(after)) && sent === before.size ? null : new SourceChanged(path)),
          (e: Error) => callback(e)
        )
      }
    })
    const source = handle.createReadStream({ highWaterMark: CHUNK_BYTES, autoClose: false, start: 0 })
    source.on("error", (e) => guard.destroy(e))
    source.pipe(guard)
    return { stream: guard, size: before.size, sha256: () => hash.digest("hex") }
  })

/**
 * Writes `body` to `localPath` durably and create-only (fails if it exists,
 * as the local repository does): a temporary file beside it, fsynced, then
 * linked into place. Returns the SHA-256 and size of the bytes written.
 */
export const writeHashedFile = async (
  body: AsyncIterable<Uint8Array>,
  localPath: string
): Promise<{ readonly sha256: string; readonly size: number }> => {
  const dir = dirname(localPath)
  await fs.promises.mkdir(dir, { recursive: true })
  const tmp = `${localPath}.relpub-${process.pid}-${Date.now()}.part`
  const hash = createHash("sha256")
  let size = 0
  const handle = await fs.promises.open(tmp, "wx", 0o644)
  try {
    for await (const chunk of body) {
      hash.update(chunk)
      size += chunk.length
      await handle.write(chunk)
    }
    await handle.sync()
    await handle.close()
    await fs.promises.link(tmp, localPath)
    const parent = await fs.promises.open(dir, "r")
    await parent.sync().finally(() => parent.close())
  } finally {
    await handle.close().catch(() => undefined)
    await fs.promises.unlink(tmp).catch(() => undefined)
  }
  return { sha256: hash.digest("hex"), size }
}
