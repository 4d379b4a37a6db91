import type { File } from "@google-cloud/storage"
import { pipeline } from "node:stream/promises"
import { Effect, Layer, Option } from "effect"
import type { PreconditionFailed, StorageError } from "../domain/Errors.ts"
import { openHashedSource, writeHashedFile } from "./internal/fileTransfer.ts"
import {
  allPages,
  conditionalWrite,
  failures,
  PART_BYTES,
  promoteByCopy,
  removeEach,
  type RetryPolicy,
  rootPrefix,
  scrub,
  sdkCall,
  SdkFailure,
  setupError,
  sha256,
  withRetry
} from "./internal/objectStore.ts"
import { type ObjectInfo, Repository, type RepositoryShape } from "./Repository.ts"

/**
 * Where a Google Cloud Storage repository lives. Credentials come from
 * Application Default Credentials unless `keyFilename` is given; an
 * `endpoint` (an emulator such as fake-gcs-server) is used without auth.
 *
 * @category models
 */
export interface GcsRepositoryConfig {
  readonly bucket: string
  readonly prefix?: string | undefined
  /** e.g. `http://127.0.0.1:4443` for fake-gcs-server; uploads are then single requests. */
  readonly endpoint?: string | undefined
  readonly projectId?: string | undefined
  /** Service-account key file; default: Application Default Credentials. */
  readonly keyFilename?: string | undefined
  /** `in-place` (default, faster): stage inside the release directory; `copy`: rewrite. */
  readonly staging?: "in-place" | "copy" | undefined
  /** Objects per list page (default 1000). */
  readonly pageSize?: number | undefined
  readonly retry?: RetryPolicy | undefined
}

/**
 * GCS allows about one write per second to one object (the index): back off
 * from a second, so that a 429 or 503 is waited out rather than hammered.
 */
export const gcsDefaultRetry: RetryPolicy = { attempts: 6, base: "1 second", cap: "16 seconds" }

const call = sdkCall((error) => {
  const e = error as {
    code?: unknown
    response?: { status?: number }
    errors?: Array<{ reason?: string }>
  }
  const status = typeof e?.code === "number" ? e.code : e?.response?.status
  return new SdkFailure(
    error,
    status,
    e?.errors?.[0]?.reason ?? (typeof e?.code === "string" ? e.code : undefined)
  )
})
const {
  fail,
  missing,
  create,
  swap,
  remove: removed
} = failures(["rateLimitExceeded"], (f) => f.status === 412)

const infoOf = (key: string, metadata: File["metadata"]): ObjectInfo => ({
  key,
  size: Number(metadata.size ?? 0),
  etag: String(metadata.generation ?? "")
})

// The bytes and the generation they belong to, from one response (x-goog-generation).
const readWithGeneration = (file: File) =>
  new Promise<Option.Option<{ bytes: Uint8Array; etag: string }>>((resolve, reject) => {
    let generation: unknown
    const chunks: Array<Buffer> = []
    file
      .createReadStream()
      .on(
        "response",
        (res: { headers: Record<string, unknown> }) =>
          (generation = res.headers["x-goog-generation"])
      )
      .on("data", (chunk: Buffer) => chunks.push(chunk))
      .on("error", reject)
      .on("end", () =>
        typeof generation === "string"
          ? resolve(Option.some({ bytes: new Uint8Array(Buffer.concat(chunks)), etag: generation }))
          : reject(new Error("the server sent no x-goog-generation header"))
      )
  })

/**
 * A GCS repository. The token is the object generation: create-only writes
 * are `ifGenerationMatch=0`, swaps `ifGenerationMatch=<generation>`, and a
 * read reports the generation of the bytes it returns. Uploads stream the
 * file through a SHA-256 hash; the client checks CRC32C/MD5 as by default.
 *
 * @category constructors
 */
export const makeGcsRepository = (
  config: GcsRepositoryConfig
): Effect.Effect<RepositoryShape, StorageError> =>
  Effect.gen(function* () {
    const root = rootPrefix(config.prefix)
    const location = scrub(
      `gs://${config.bucket}/${root}${config.endpoint ? ` (${config.endpoint})` : ""}`
    )
    const { Storage } = yield* Effect.tryPromise({
      try: () => import("@google-cloud/storage"),
      catch: (e) => setupError(location, String(e))
    })
    const bucket = new Storage({
      ...(config.endpoint && { apiEndpoint: config.endpoint }),
      ...(config.projectId && { projectId: config.projectId }),
      ...(config.keyFilename && { keyFilename: config.keyFilename }),
      // Retries are ours: one Schedule, retryable errors only.
      retryOptions: { autoRetry: false }
    }).bucket(config.bucket)
    const file = (key: string) => bucket.file(root + key)
    const policy = config.retry ?? gcsDefaultRetry
    const retry = withRetry(policy)
    const read = (key: string) =>
      call(() => readWithGeneration(file(key))).pipe(Effect.catchAll(missing(key)), retry)

    const write = (key: string, bytes: Uint8Array, ifGenerationMatch: string) =>
      call(async () => {
        const target = file(key)
        const preconditionOpts = { ifGenerationMatch: Number(ifGenerationMatch) }
        await target.save(Buffer.from(bytes), { resumable: false, preconditionOpts })
        return { ...infoOf(key, target.metadata), sha256: sha256(bytes).digest("hex") }
      })

    const list = (prefix: string) =>
      allPages((pageToken) =>
        call(() =>
          bucket.getFiles({
            prefix: root + prefix,
            autoPaginate: false,
            maxResults: config.pageSize ?? 1000,
            ...(pageToken && { pageToken })
          })
        ).pipe(
          Effect.map(
            ([files, next]) =>
              [
                files.map((f) => infoOf(f.name.slice(root.length), f.metadata)),
                (next as { pageToken?: string } | null)?.pageToken
              ] as const
          ),
          Effect.mapError(fail("list", prefix)),
          retry
        )
      )

    const remove = (
      key: string,
      expected?: string
    ): Effect.Effect<void, PreconditionFailed | StorageError> =>
      call(() =>
        file(key).delete(expected === undefined ? {} : { ifGenerationMatch: Number(expected) })
      ).pipe(Effect.asVoid, Effect.catchAll(removed(key, expected)), retry)

    const copy = (from: string, to: string) =>
      call(() => file(from).copy(file(to), { preconditionOpts: { ifGenerationMatch: 0 } })).pipe(
        Effect.mapError(create("promote", to)),
        retry,
        Effect.asVoid
      )

    const upload = (localPath: string, key: string) =>
      Effect.scoped(
        Effect.gen(function* () {
          const source = yield* openHashedSource(localPath, key)
          const sink = file(key).createWriteStream({
            // Emulators take single-request uploads only (ECOSYSTEM.md, GCS row).
            resumable: config.endpoint === undefined && source.size > PART_BYTES,
            contentType: "application/octet-stream",
            preconditionOpts: { ifGenerationMatch: 0 }
          })
          yield* call((signal) => pipeline(source.stream, sink, { signal })).pipe(
            Effect.mapError(fail("upload", key))
          )
          return { key, size: source.size, sha256: source.sha256() }
        })
      ).pipe(retry)

    const repository: RepositoryShape = {
      kind: "gcs",
      location,
      stagingMode: config.staging === "copy" ? "separate" : "in-place",
      read,
      head: (key) =>
        call(() => file(key).getMetadata()).pipe(
          Effect.map(([metadata]) => Option.some(infoOf(key, metadata))),
          Effect.catchAll(missing(key)),
          retry
        ),
      list,
      create: (key, bytes) => {
        const attempt = write(key, bytes, "0").pipe(Effect.mapError(create("create", key)))
        return conditionalWrite(key, bytes, attempt, read(key), policy)
      },
      swap: (key, bytes, expected) => {
        const attempt = Effect.mapError(write(key, bytes, expected ?? "0"), swap(key, expected))
        return conditionalWrite(key, bytes, attempt, read(key), policy)
      },
      remove,
      removePrefix: (prefix) =>
        Effect.flatMap(list(prefix), (objects) => removeEach(objects, remove)),
      upload,
      promote: (fromPrefix, toPrefix, keys) =>
        promoteByCopy(fromPrefix, toPrefix, keys, list, copy),
      download: (key, localPath) =>
        call(async () => ({
          key,
          ...(await writeHashedFile(file(key).createReadStream(), localPath))
        })).pipe(Effect.mapError(fail("read", key)), retry)
    }
    return repository
  })

/**
 * The GCS repository as the Repository service.
 *
 * @category layers
 */
export const layer = (config: GcsRepositoryConfig): Layer.Layer<Repository, StorageError> =>
  Layer.effect(Repository, makeGcsRepository(config))
