// What the object-store repositories (S3, GCS, Azure) share: key layout, the
// retry policy, mapping SDK failures to typed errors once, and promotion.
import { createHash } from "node:crypto"
import { Duration, Effect, Option, Schedule } from "effect"
import {
  AlreadyExists,
  PreconditionFailed,
  StorageError,
  type StorageOperation
} from "../../domain/Errors.ts"
import type { ObjectInfo, StoredObject } from "../Repository.ts"
import { redact } from "../RepositoryUrl.ts"
import { SourceChanged } from "./fileTransfer.ts"

/** Multipart part / block size: 8 MiB, above the S3 minimum of 5 MiB. */
export const PART_BYTES = 8 * 1024 * 1024
/** Parts in flight per upload (PERFORMANCE.md, recommendation 11). */
export const UPLOAD_CONCURRENCY = 2
/**
 * S3 files up to this size go in one streamed PutObject (the server checks
 * their SHA-256); larger ones in a multipart upload.
 */
export const SINGLE_PUT_BYTES = 64 * 1024 * 1024
/**
 * S3 multipart part size for a file of `size` bytes: 16 MiB, more for files over 160 GiB (10,000
 * parts at most).
 */
export const partBytesFor = (size: number): number =>
  Math.max(16 * 1024 * 1024, Math.ceil(size / 10_000 / (1024 * 1024)) * 1024 * 1024)
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
export const isRetryable = (e: unknown): boolean => e instanceof StorageError && e.retryable

/** The schedule behind {@link withRetry}: exponential from `base`, jittered, capped. */
export const retrySchedule = (policy: RetryPolicy) =>
  Schedule.exponential(policy.base).pipe(
    Schedule.jittered,
    Schedule.modifyDelay((delay) => Duration.min(delay, Duration.decode(policy.cap))),
    Schedule.intersect(Schedule.recurs(Math.max(0, policy.attempts - 1))),
    Schedule.whileInput(isRetryable)
  )

export const withRetry =
  (policy: RetryPolicy) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.retry(self, retrySchedule(policy))

const NETWORK_CODES = [
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ECONNABORTED",
  "EAI_AGAIN",
  "ESOCKETTIMEDOUT"
]

/** HTTP statuses worth retrying: request timeout, throttling, server errors. */
export const isRetryableStatus = (status: number | undefined): boolean =>
  status === 408 || status === 429 || (status !== undefined && status >= 500 && status <= 599)

// The error and its causes, outermost first (SDKs wrap network errors).
const causes = (e: unknown): Array<Record<string, unknown>> => {
  const out: Array<Record<string, unknown>> = []
  for (let c = e; c instanceof Object && out.length < 5; c = (c as { cause?: unknown }).cause) {
    out.push(c as Record<string, unknown>)
  }
  return out
}

/** A network failure worth retrying (reset, timeout, "socket hang up"). */
export const isRetryableNetwork = (e: unknown): boolean =>
  causes(e).some(
    ({ code, name, message }) =>
      NETWORK_CODES.includes(code as string) ||
      name === "TimeoutError" ||
      name === "RequestTimeout" ||
      (typeof message === "string" && /socket hang up|ECONNRESET|ETIMEDOUT/.test(message))
  )

/** Removes what may be a secret from a message (see {@link redact}). */
export const scrub = redact

/**
 * An SDK failure, read once at the edge: HTTP status and service error code
 * as the backend reports them. Only the mappers below let it out.
 */
export class SdkFailure {
  constructor(
    readonly error: unknown,
    readonly status: number | undefined,
    readonly code: string | undefined
  ) {}
}

/** Runs an SDK call with the fiber's abort signal; failures become SdkFailure via `classify`. */
export const sdkCall =
  (classify: (e: unknown) => SdkFailure) =>
  <A>(run: (signal: AbortSignal) => Promise<A>): Effect.Effect<A, SdkFailure> =>
    Effect.tryPromise({ try: run, catch: classify })

/**
 * The StorageError for an SDK failure: operation, key, HTTP status and code,
 * a scrubbed message and a `retryable` flag. The SDK error itself is not kept
 * (some carry request headers); `cause` holds only the classified fields.
 */
export const toStorageError =
  (operation: StorageOperation, key: string, retryableCodes: ReadonlyArray<string> = []) =>
  (f: SdkFailure): StorageError => {
    const changed = causes(f.error).find((c) => c instanceof SourceChanged)
    if (changed !== undefined) {
      return new StorageError({ operation, key, detail: String(changed.message), retryable: false })
    }
    const { status, code } = f
    const head = `${status === undefined ? "" : `HTTP ${status} `}${code ?? ""}`.trim()
    const message = scrub((f.error as Error | undefined)?.message ?? String(f.error)).slice(0, 500)
    return new StorageError({
      operation,
      key,
      detail: head === "" ? message : `${head}: ${message}`,
      retryable:
        isRetryableStatus(status) ||
        isRetryableNetwork(f.error) ||
        (code !== undefined && retryableCodes.includes(code)),
      cause: { status, code, message }
    })
  }

/** The error of a backend that cannot be set up (SDK missing, bad credentials). */
export const setupError = (key: string, detail: string) =>
  new StorageError({ operation: "probe", key, detail: scrub(detail), retryable: false })

type Fail = (operation: StorageOperation, key: string) => (f: SdkFailure) => StorageError

/** The typed-error mappers of one backend, given how it says "exists" and "changed". */
export const failures = (
  retryableCodes: ReadonlyArray<string>,
  conflict: (f: SdkFailure) => boolean
) => {
  const fail: Fail = (operation, key) => toStorageError(operation, key, retryableCodes)
  return {
    fail,
    /** 404: None. */
    missing: (key: string) => (f: SdkFailure) =>
      f.status === 404 ? Effect.succeedNone : Effect.fail(fail("read", key)(f)),
    /** A create-only write found the key. */
    create: (operation: StorageOperation, key: string) => (f: SdkFailure) =>
      conflict(f) ? new AlreadyExists({ key }) : fail(operation, key)(f),
    /** A conditional write lost; with a token, a vanished key lost too. */
    swap: (key: string, expected: string | undefined) => (f: SdkFailure) =>
      conflict(f) || (f.status === 404 && expected !== undefined)
        ? new PreconditionFailed({ key })
        : fail("swap", key)(f),
    /** A delete: absent is done, unless a token was expected. */
    remove:
      (key: string, expected: string | undefined) =>
      (f: SdkFailure): Effect.Effect<void, PreconditionFailed | StorageError> =>
        expected !== undefined && (f.status === 412 || f.status === 404)
          ? Effect.fail(new PreconditionFailed({ key }))
          : f.status === 404
            ? Effect.void
            : Effect.fail(fail("delete", key)(f))
  }
}

/**
 * Retries a create-only or conditional write. A retry after an ambiguous
 * failure (timeout, reset, 5xx) may meet its own earlier attempt, committed
 * after all: when the condition then fails, the key is read back, and if it
 * holds exactly these bytes the write counts as done.
 */
export const conditionalWrite = <E extends AlreadyExists | PreconditionFailed>(
  key: string,
  bytes: Uint8Array,
  write: Effect.Effect<ObjectInfo, E | StorageError>,
  readBack: Effect.Effect<Option.Option<StoredObject>, StorageError>,
  policy: RetryPolicy
): Effect.Effect<ObjectInfo, E | StorageError> =>
  Effect.suspend(() => {
    let ambiguous = false
    const ours = (e: E) =>
      readBack.pipe(
        Effect.flatMap((current) =>
          Option.isSome(current) && Buffer.from(current.value.bytes).equals(bytes)
            ? Effect.succeed({ key, size: bytes.length, etag: current.value.etag })
            : Effect.fail(e)
        )
      )
    return write.pipe(
      Effect.tapError((e) => Effect.sync(() => (ambiguous ||= isRetryable(e)))),
      withRetry(policy),
      Effect.catchIf((e): e is E => ambiguous && !(e instanceof StorageError), ours)
    )
  })

/** Splits `items` into arrays of at most `size`. */
export const chunks = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) =>
    items.slice(i * size, (i + 1) * size)
  )

/** `root` as a key prefix: no leading slash, one trailing slash unless empty. */
export const rootPrefix = (prefix: string | undefined): string => {
  const trimmed = (prefix ?? "").replace(/^\/+|\/+$/g, "")
  return trimmed === "" ? "" : `${trimmed}/`
}

/** A prefix naming a directory, as promote takes them: with a trailing slash. */
export const asDirectory = (prefix: string): string =>
  prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`

export const byKey = (a: ObjectInfo, b: ObjectInfo): number =>
  a.key < b.key ? -1 : a.key > b.key ? 1 : 0

export const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes)

/** Follows continuation tokens until the last page; returns every object in key order. */
export const allPages = <E>(
  page: (
    token: string | undefined
  ) => Effect.Effect<readonly [ReadonlyArray<ObjectInfo>, string | undefined], E>
): Effect.Effect<Array<ObjectInfo>, E> =>
  Effect.gen(function* () {
    const found: Array<ObjectInfo> = []
    let token: string | undefined
    do {
      const [objects, next] = yield* page(token)
      found.push(...objects)
      token = next
    } while (token !== undefined)
    return found.sort(byKey)
  })

/** Deletes every listed object, a few at a time. */
export const removeEach = (
  objects: ReadonlyArray<ObjectInfo>,
  remove: (key: string) => Effect.Effect<void, PreconditionFailed | StorageError>
): Effect.Effect<void, StorageError> =>
  Effect.forEach(
    objects,
    (o) => remove(o.key).pipe(Effect.catchTag("PreconditionFailed", () => Effect.void)),
    {
      concurrency: SERVER_SIDE_CONCURRENCY,
      discard: true
    }
  )

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
  const copyOne = (key: string) => {
    const rel = key.startsWith(from) ? key.slice(from.length) : key
    return copy(`${from}${rel}`, `${to}${rel}`)
  }
  return list(to).pipe(
    Effect.filterOrFail(
      (present) => present.length === 0,
      () => new AlreadyExists({ key: toPrefix })
    ),
    Effect.zipRight(
      Effect.forEach(keys, copyOne, { concurrency: SERVER_SIDE_CONCURRENCY, discard: true })
    )
  )
}
