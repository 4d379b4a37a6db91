import type { ContainerListBlobFlatSegmentResponse } from "@azure/storage-blob"
import { Config, Effect, Layer, Option, Redacted } from "effect"
import type { PreconditionFailed, StorageError } from "../domain/Errors.ts"
import {
  openUploadSource,
  sending,
  type UploadSource,
  writeHashedFile
} from "./internal/fileTransfer.ts"
import {
  allPages,
  conditionalWrite,
  defaultRetry,
  failures,
  PART_BYTES,
  promoteByCopy,
  type RetryPolicy,
  rootPrefix,
  sdkCall,
  SdkFailure,
  SERVER_SIDE_CONCURRENCY,
  setupError,
  sha256,
  SINGLE_PUT_BYTES,
  UPLOAD_CONCURRENCY,
  withRetry
} from "./internal/objectStore.ts"
import type { FileDigest } from "./Hasher.ts"
import { type ObjectInfo, Repository, type RepositoryShape } from "./Repository.ts"

/**
 * Where an Azure Blob repository lives. Credentials: a connection string, or
 * account name and key; when neither is given, the variables
 * AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY.
 *
 * @category models
 */
export interface AzureRepositoryConfig {
  readonly container: string
  readonly prefix?: string | undefined
  readonly connectionString?: Redacted.Redacted<string> | undefined
  readonly account?: string | undefined
  readonly accountKey?: Redacted.Redacted<string> | undefined
  /** Blob service URL; default `https://<account>.blob.core.windows.net`. */
  readonly endpoint?: string | undefined
  /** `in-place` (default, faster): stage inside the release directory; `copy`: Copy Blob. */
  readonly staging?: "in-place" | "copy" | undefined
  /** Blobs per list page (default 1000; the service allows up to 5000). */
  readonly pageSize?: number | undefined
  readonly retry?: RetryPolicy | undefined
}

const call = sdkCall((error) => {
  const e = error as { statusCode?: number; code?: string; details?: { errorCode?: string } }
  return new SdkFailure(error, e?.statusCode, e?.details?.errorCode ?? e?.code)
})
// REQUEST_SEND_ERROR: no answer came back (reset, refused mid-flight).
const RETRYABLE_CODES = ["REQUEST_SEND_ERROR", "ServerBusy", "OperationTimedOut", "InternalError"]
// Create-if-absent conflicts are 409 BlobAlreadyExists, not only 412 (ECOSYSTEM.md, Azure row).
const {
  fail,
  missing,
  create,
  swap,
  remove: removed
} = failures(
  RETRYABLE_CODES,
  (f) => f.status === 412 || (f.status === 409 && f.code === "BlobAlreadyExists")
)

const tokenOf = (etag: string | undefined) => (etag ?? "").replace(/"/g, "")
const quoted = (token: string) => `"${token}"`
const IF_ABSENT = { ifNoneMatch: "*" } as const

const NO_CREDENTIALS =
  "no Azure credentials: give a connection string, or set " +
  "AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY"

const credentialsOf = (config: AzureRepositoryConfig) =>
  Effect.gen(function* () {
    if (config.connectionString !== undefined) return { connectionString: config.connectionString }
    if (config.account !== undefined && config.accountKey !== undefined) {
      return { account: config.account, accountKey: config.accountKey }
    }
    const fromEnv = yield* Config.option(Config.redacted("AZURE_STORAGE_CONNECTION_STRING"))
    if (Option.isSome(fromEnv)) return { connectionString: fromEnv.value }
    const account = config.account ?? (yield* Config.string("AZURE_STORAGE_ACCOUNT"))
    return { account, accountKey: yield* Config.redacted("AZURE_STORAGE_KEY") }
  }).pipe(Effect.mapError(() => setupError(`az://${config.container}`, NO_CREDENTIALS)))

/**
 * An Azure Blob repository (block blobs). Create-only writes are
 * `If-None-Match: *` (the service answers 409 BlobAlreadyExists or 412),
 * swaps `If-Match` on the ETag (412 ConditionNotMet). Uploads stream the file
 * through a SHA-256 hash into one Put Blob, or above SINGLE_PUT_BYTES into
 * staged blocks, created with `If-None-Match: *`. Removing a prefix also
 * discards the staged blocks of interrupted uploads.
 *
 * @category constructors
 */
export const makeAzureRepository = (
  config: AzureRepositoryConfig
): Effect.Effect<RepositoryShape, StorageError> =>
  Effect.gen(function* () {
    const root = rootPrefix(config.prefix)
    const credentials = yield* credentialsOf(config)
    const azure = yield* Effect.tryPromise({
      try: () => import("@azure/storage-blob"),
      catch: (e) => setupError(config.container, String(e))
    })
    // Retries are ours: one Schedule, retryable errors only.
    const options = { retryOptions: { maxTries: 1 } }
    const service = yield* Effect.try({
      try: () =>
        "connectionString" in credentials
          ? azure.BlobServiceClient.fromConnectionString(
              Redacted.value(credentials.connectionString),
              options
            )
          : new azure.BlobServiceClient(
              config.endpoint ?? `https://${credentials.account}.blob.core.windows.net`,
              new azure.StorageSharedKeyCredential(
                credentials.account,
                Redacted.value(credentials.accountKey)
              ),
              options
            ),
      catch: () => setupError(config.container, "invalid Azure credentials or endpoint")
    })
    const container = service.getContainerClient(config.container)
    const blob = (key: string) => container.getBlockBlobClient(root + key)
    const policy = config.retry ?? defaultRetry
    const retry = withRetry(policy)
    const read = (key: string) =>
      call(async (abortSignal) => {
        const o = await blob(key).download(0, undefined, { abortSignal })
        const chunks: Array<Buffer> = []
        for await (const chunk of o.readableStreamBody!) chunks.push(chunk as Buffer)
        return Option.some({ bytes: new Uint8Array(Buffer.concat(chunks)), etag: tokenOf(o.etag) })
      }).pipe(Effect.catchAll(missing(key)), retry)

    const write = (
      key: string,
      bytes: Uint8Array,
      conditions: { ifNoneMatch: "*" } | { ifMatch: string }
    ) =>
      call((abortSignal) =>
        blob(key).upload(bytes, bytes.length, { conditions, abortSignal })
      ).pipe(
        Effect.map(
          (o): ObjectInfo => ({
            key,
            size: bytes.length,
            etag: tokenOf(o.etag),
            sha256: sha256(bytes).digest("hex")
          })
        )
      )

    // With `uncommitted`, also the blobs of interrupted uploads (staged, never committed blocks).
    const listing = (prefix: string, uncommitted: boolean) =>
      allPages((continuationToken) =>
        call(async () => {
          const pages = container
            .listBlobsFlat({ prefix: root + prefix, includeUncommitedBlobs: uncommitted })
            .byPage({
              maxPageSize: config.pageSize ?? 1000,
              ...(continuationToken && { continuationToken })
            })
          const page: ContainerListBlobFlatSegmentResponse = (await pages.next()).value
          const objects = page.segment.blobItems.map((b) => ({
            key: b.name.slice(root.length),
            size: b.properties.contentLength ?? 0,
            etag: tokenOf(b.properties.etag)
          }))
          return [objects, page.continuationToken || undefined] as const
        }).pipe(Effect.mapError(fail("list", prefix)), retry)
      )

    const remove = (
      key: string,
      expected?: string
    ): Effect.Effect<void, PreconditionFailed | StorageError> => {
      const conditions = expected === undefined ? {} : { conditions: { ifMatch: quoted(expected) } }
      return call((abortSignal) => blob(key).delete({ abortSignal, ...conditions })).pipe(
        Effect.asVoid,
        Effect.catchAll(removed(key, expected)),
        retry
      )
    }

    const copy = (from: string, to: string) =>
      call(async (abortSignal) => {
        const options = { conditions: IF_ABSENT, abortSignal }
        const poller = await blob(to).beginCopyFromURL(blob(from).url, options)
        await poller.pollUntilDone()
      }).pipe(Effect.mapError(create("promote", to)), retry)

    const UPLOAD_OPTIONS = {
      conditions: IF_ABSENT,
      blobHTTPHeaders: { blobContentType: "application/octet-stream" }
    }

    // One Put Blob streamed from the file: a failed request leaves nothing
    // behind (staged blocks would stay, uncommitted, for up to a week).
    const putFile = (source: UploadSource, key: string) =>
      call((abortSignal) => {
        const { stream, read } = source.range(0, source.size)
        return sending(read, abortSignal, (signal) =>
          blob(key).upload(() => stream, source.size, { ...UPLOAD_OPTIONS, abortSignal: signal })
        )
      })

    // Staged blocks committed with `If-None-Match: *`, for files above SINGLE_PUT_BYTES.
    const stagedFile = (source: UploadSource, key: string) =>
      call((abortSignal) => {
        const { stream, read } = source.range(0, source.size)
        return sending(read, abortSignal, (signal) =>
          blob(key).uploadStream(stream, PART_BYTES, UPLOAD_CONCURRENCY, {
            ...UPLOAD_OPTIONS,
            abortSignal: signal
          })
        )
      })

    const upload = (localPath: string, key: string, verified?: FileDigest) =>
      Effect.scoped(
        Effect.gen(function* () {
          const source = yield* openUploadSource(localPath, key, verified)
          yield* (
            source.size <= SINGLE_PUT_BYTES ? putFile(source, key) : stagedFile(source, key)
          ).pipe(Effect.mapError(fail("upload", key)))
          return { key, size: source.size, sha256: source.sha256() }
        })
      ).pipe(retry)

    // Delete a blob, or the staged blocks of an interrupted upload: Azurite
    // deletes those like any blob; where Delete Blob finds no blob (404), a
    // create-only empty Put Blob discards the staged blocks, and that blob is
    // deleted.
    const removeBlob = (key: string) => {
      const viaEmptyBlob = call((abortSignal) =>
        blob(key).upload(new Uint8Array(0), 0, { conditions: IF_ABSENT, abortSignal })
      ).pipe(
        Effect.map((o) => Option.some(tokenOf(o.etag))),
        // Committed meanwhile: no interrupted upload is left to discard.
        Effect.catchAll((f) =>
          f.status === 409 || f.status === 412
            ? Effect.succeed(Option.none<string>())
            : Effect.fail(fail("delete", key)(f))
        ),
        retry,
        Effect.flatMap(
          Option.match({
            onNone: () => Effect.void,
            onSome: (etag) =>
              remove(key, etag).pipe(Effect.catchTag("PreconditionFailed", () => Effect.void))
          })
        )
      )
      return call((abortSignal) => blob(key).delete({ abortSignal })).pipe(
        Effect.as(true),
        Effect.catchAll((f) =>
          f.status === 404 ? Effect.succeed(false) : Effect.fail(fail("delete", key)(f))
        ),
        retry,
        Effect.flatMap((deleted) => (deleted ? Effect.void : viaEmptyBlob))
      )
    }

    // One listing that includes the blobs of interrupted uploads; each goes
    // the same way, committed or not.
    const removePrefix = (prefix: string) =>
      Effect.flatMap(listing(prefix, true), (objects) =>
        Effect.forEach(objects, (o) => removeBlob(o.key), {
          concurrency: SERVER_SIDE_CONCURRENCY,
          discard: true
        })
      )

    const repository: RepositoryShape = {
      kind: "azure",
      location: `az://${service.accountName}/${config.container}/${root}`,
      stagingMode: config.staging === "copy" ? "separate" : "in-place",
      read,
      head: (key) =>
        call((abortSignal) => blob(key).getProperties({ abortSignal })).pipe(
          Effect.map((p) =>
            Option.some<ObjectInfo>({ key, size: p.contentLength ?? 0, etag: tokenOf(p.etag) })
          ),
          Effect.catchAll(missing(key)),
          retry
        ),
      list: (prefix) => listing(prefix, false),
      create: (key, bytes) => {
        const attempt = Effect.mapError(write(key, bytes, IF_ABSENT), create("create", key))
        return conditionalWrite(key, bytes, attempt, read(key), policy)
      },
      swap: (key, bytes, expected) => {
        const conditions = expected === undefined ? IF_ABSENT : { ifMatch: quoted(expected) }
        const attempt = Effect.mapError(write(key, bytes, conditions), swap(key, expected))
        return conditionalWrite(key, bytes, attempt, read(key), policy)
      },
      remove,
      removePrefix,
      upload,
      promote: (fromPrefix, toPrefix, keys) =>
        promoteByCopy(fromPrefix, toPrefix, keys, repository.list, copy),
      download: (key, localPath) =>
        call(async (abortSignal) => {
          const o = await blob(key).download(0, undefined, { abortSignal })
          return {
            key,
            ...(await writeHashedFile(o.readableStreamBody as AsyncIterable<Uint8Array>, localPath))
          }
        }).pipe(Effect.mapError(fail("read", key)), retry)
    }
    return repository
  })

/**
 * The Azure Blob repository as the Repository service.
 *
 * @category layers
 */
export const layer = (config: AzureRepositoryConfig): Layer.Layer<Repository, StorageError> =>
  Layer.effect(Repository, makeAzureRepository(config))
