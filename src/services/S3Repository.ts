import { Effect, Layer, Option, Redacted, type Scope } from "effect"
import { AlreadyExists, PreconditionFailed, StorageError } from "../domain/Errors.ts"
import {
  byKey, chunks, defaultRetry, openHashedSource, PART_BYTES, promoteByCopy, type RetryPolicy,
  rootPrefix, scrub, SdkFailure, sdkCall, SERVER_SIDE_CONCURRENCY, sha256, toStorageError,
  UPLOAD_CONCURRENCY, withRetry, writeHashedFile
} from "./internal/objectStore.ts"
import { type ObjectInfo, Repository, type RepositoryShape } from "./Repository.ts"

/**
 * Where an S3 (or S3-compatible) repository lives. Credentials come from the
 * SDK's default chain (environment, profile, instance role) unless given.
 *
 * @category models
 */
export interface S3RepositoryConfig {
  readonly bucket: string
  /** Key prefix of the repository root inside the bucket. */
  readonly prefix?: string | undefined
  /** Default: the SDK's chain, or `us-east-1` with a custom endpoint. */
  readonly region?: string | undefined
  /** For S3-compatible servers, e.g. `http://127.0.0.1:8333`. */
  readonly endpoint?: string | undefined
  readonly forcePathStyle?: boolean | undefined
  readonly credentials?: {
    readonly accessKeyId: string
    readonly secretAccessKey: Redacted.Redacted<string>
    readonly sessionToken?: Redacted.Redacted<string> | undefined
  } | undefined
  /** `in-place` (default): stage inside the release directory; `copy`: stage apart, CopyObject. */
  readonly staging?: "in-place" | "copy" | undefined
  /** Send `x-amz-checksum-sha256` with create/swap bodies, checked by the server (default on). */
  readonly checksumSha256?: boolean | undefined
  /** Keys per ListObjectsV2 page (default 1000). */
  readonly pageSize?: number | undefined
  readonly retry?: RetryPolicy | undefined
}

const classify = (error: unknown) => {
  const e = error as { $metadata?: { httpStatusCode?: number }; name?: string; Code?: string }
  return new SdkFailure(error, e?.$metadata?.httpStatusCode, e?.Code ?? e?.name)
}
const call = sdkCall(classify)
// 409 ConditionalRequestConflict: another conditional write to the key was in flight.
const RETRYABLE_CODES = ["ConditionalRequestConflict", "OperationAborted", "SlowDown", "InternalError"]

const tokenOf = (etag: string | undefined) => (etag ?? "").replace(/^W\//, "").replace(/"/g, "")
const quoted = (token: string) => `"${token}"`
// Only a full-object SHA-256 (a multipart checksum of checksums ends in "-N").
const sha256Of = (checksum: string | undefined, type: string | undefined) =>
  checksum === undefined || checksum.includes("-") || type === "COMPOSITE"
    ? undefined
    : Buffer.from(checksum, "base64").toString("hex")

const clientConfig = (config: S3RepositoryConfig) => {
  const { credentials: c, endpoint } = config
  const region = config.region ?? (endpoint ? "us-east-1" : undefined)
  return {
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoint } : {}),
    forcePathStyle: config.forcePathStyle ?? false,
    ...(c
      ? {
        credentials: {
          accessKeyId: c.accessKeyId,
          secretAccessKey: Redacted.value(c.secretAccessKey),
          ...(c.sessionToken ? { sessionToken: Redacted.value(c.sessionToken) } : {})
        }
      }
      : {}),
    // Non-AWS servers reject the default CRC32 trailers (ECOSYSTEM.md, S3 row).
    requestChecksumCalculation: "WHEN_REQUIRED" as const,
    responseChecksumValidation: "WHEN_REQUIRED" as const,
    // Retries are ours: one Schedule, retryable errors only.
    maxAttempts: 1
  }
}

/**
 * An S3 repository. Create-only writes are `If-None-Match: *` (412: the key
 * exists; 409 ConditionalRequestConflict: a concurrent conditional write,
 * retried), swaps `If-Match` on the ETag, uploads stream the file through a
 * SHA-256 hash into lib-storage with `If-None-Match: *` on the PUT or
 * CompleteMultipartUpload. The SDK is loaded when the layer is built.
 *
 * @category constructors
 */
export const makeS3Repository = (
  config: S3RepositoryConfig
): Effect.Effect<RepositoryShape, StorageError, Scope.Scope> =>
  Effect.gen(function*() {
    const root = rootPrefix(config.prefix)
    const at = config.endpoint ? ` (${config.endpoint})` : ""
    const location = scrub(`s3://${config.bucket}/${root}${at}`)
    const [s3, lib] = yield* Effect.tryPromise({
      try: () => Promise.all([import("@aws-sdk/client-s3"), import("@aws-sdk/lib-storage")]),
      catch: (e) => new StorageError({ operation: "probe", key: location, detail: String(e), retryable: false })
    })
    const client = yield* Effect.acquireRelease(
      Effect.sync(() => new s3.S3Client(clientConfig(config))),
      (c) => Effect.sync(() => c.destroy())
    )
    const Bucket = config.bucket
    const retry = withRetry(config.retry ?? defaultRetry)
    const fail = (operation: Parameters<typeof toStorageError>[0], key: string) =>
      toStorageError(operation, key, RETRYABLE_CODES)
    const orNone = (key: string) => (f: SdkFailure) =>
      f.status === 404 ? Effect.succeedNone : Effect.fail(fail("read", key)(f))

    const put = (key: string, bytes: Uint8Array, condition: { IfNoneMatch: "*" } | { IfMatch: string }) => {
      const digest = sha256(bytes)
      const checksum = config.checksumSha256 ?? true ? { ChecksumSHA256: digest.copy().digest("base64") } : {}
      const input = { Bucket, Key: root + key, Body: bytes, ContentLength: bytes.length, ...condition, ...checksum }
      return call((abortSignal) => client.send(new s3.PutObjectCommand(input), { abortSignal })).pipe(
        Effect.map((out): ObjectInfo => ({ key, size: bytes.length, etag: tokenOf(out.ETag), sha256: digest.digest("hex") }))
      )
    }

    const list = (prefix: string) =>
      Effect.gen(function*() {
        const found: Array<ObjectInfo> = []
        const input = { Bucket, Prefix: root + prefix, MaxKeys: config.pageSize ?? 1000 }
        let token: string | undefined
        do {
          const command = new s3.ListObjectsV2Command({ ...input, ContinuationToken: token })
          const page = yield* call((abortSignal) => client.send(command, { abortSignal })).pipe(
            Effect.mapError(fail("list", prefix)),
            retry
          )
          for (const o of page.Contents ?? []) {
            found.push({ key: (o.Key ?? "").slice(root.length), size: o.Size ?? 0, etag: tokenOf(o.ETag) })
          }
          token = page.IsTruncated ? page.NextContinuationToken : undefined
        } while (token !== undefined)
        return found.sort(byKey)
      })

    const head = (key: string) =>
      call((abortSignal) =>
        client.send(new s3.HeadObjectCommand({ Bucket, Key: root + key, ChecksumMode: "ENABLED" }), { abortSignal })
      ).pipe(
        Effect.map((o) =>
          Option.some<ObjectInfo>({
            key,
            size: o.ContentLength ?? 0,
            etag: tokenOf(o.ETag),
            sha256: sha256Of(o.ChecksumSHA256, o.ChecksumType)
          })
        ),
        Effect.catchAll(orNone(key)),
        retry
      )

    // Unfinished multipart uploads under `prefix` (an interrupted upload leaves its parts).
    const abortUploads = (prefix: string): Effect.Effect<void, StorageError> =>
      Effect.gen(function*() {
        let marker = {}
        for (;;) {
          const command = new s3.ListMultipartUploadsCommand({ Bucket, Prefix: root + prefix, ...marker })
          const page = yield* call((abortSignal) => client.send(command, { abortSignal })).pipe(
            Effect.mapError(fail("delete", prefix)),
            retry
          )
          yield* Effect.forEach(page.Uploads ?? [], ({ Key, UploadId }) =>
            call((abortSignal) =>
              client.send(new s3.AbortMultipartUploadCommand({ Bucket, Key, UploadId }), { abortSignal })
            ).pipe(
              Effect.catchAll((f) => f.status === 404 ? Effect.void : Effect.fail(fail("delete", prefix)(f))),
              retry
            ), { concurrency: SERVER_SIDE_CONCURRENCY, discard: true })
          if (!page.IsTruncated) return
          marker = { KeyMarker: page.NextKeyMarker, UploadIdMarker: page.NextUploadIdMarker }
        }
      })

    const removeBatch = (prefix: string, keys: ReadonlyArray<string>) => {
      const Delete = { Objects: keys.map((k) => ({ Key: root + k })), Quiet: true }
      return call((abortSignal) => client.send(new s3.DeleteObjectsCommand({ Bucket, Delete }), { abortSignal })).pipe(
        Effect.mapError(fail("delete", prefix)),
        Effect.flatMap(({ Errors = [] }) =>
          Errors.length === 0 ? Effect.void : Effect.fail(fail("delete", Errors[0]?.Key?.slice(root.length) ?? prefix)(
            new SdkFailure(new Error(`${Errors.length} keys not deleted: ${Errors[0]?.Message}`), undefined, Errors[0]?.Code)
          ))
        ),
        retry
      )
    }

    const copy = (from: string, to: string) => {
      const CopySource = `${Bucket}/${encodeURIComponent(root + from).replace(/%2F/g, "/")}`
      const command = new s3.CopyObjectCommand({ Bucket, Key: root + to, CopySource, IfNoneMatch: "*" })
      return call((abortSignal) => client.send(command, { abortSignal })).pipe(
        Effect.mapError((f) => f.status === 412 ? new AlreadyExists({ key: to }) : fail("promote", to)(f)),
        retry,
        Effect.asVoid
      )
    }

    const remove = (key: string, expected?: string): Effect.Effect<void, PreconditionFailed | StorageError> => {
      const ifMatch = expected === undefined ? {} : { IfMatch: quoted(expected) }
      const command = new s3.DeleteObjectCommand({ Bucket, Key: root + key, ...ifMatch })
      const del = call((abortSignal) => client.send(command, { abortSignal })).pipe(
        Effect.asVoid,
        Effect.catchAll((f): Effect.Effect<void, PreconditionFailed | StorageError> =>
          expected !== undefined && (f.status === 412 || f.status === 404)
            ? Effect.fail(new PreconditionFailed({ key }))
            : f.status === 404 ? Effect.void : Effect.fail(fail("delete", key)(f))
        ),
        retry
      )
      if (expected === undefined) return del
      // The head also refuses a stale token on servers that ignore If-Match on DELETE.
      return head(key).pipe(
        Effect.filterOrFail((o) => Option.isSome(o) && o.value.etag === expected, () => new PreconditionFailed({ key })),
        Effect.zipRight(del)
      )
    }

    const repository: RepositoryShape = {
      kind: "s3",
      location,
      stagingMode: config.staging === "copy" ? "separate" : "in-place",
      read: (key) =>
        call(async (abortSignal) => {
          const out = await client.send(new s3.GetObjectCommand({ Bucket, Key: root + key }), { abortSignal })
          return Option.some({ bytes: await out.Body!.transformToByteArray(), etag: tokenOf(out.ETag) })
        }).pipe(Effect.catchAll(orNone(key)), retry),
      head,
      list,
      create: (key, bytes) =>
        put(key, bytes, { IfNoneMatch: "*" }).pipe(
          Effect.mapError((f) => f.status === 412 ? new AlreadyExists({ key }) : fail("create", key)(f)),
          retry
        ),
      swap: (key, bytes, expected) =>
        put(key, bytes, expected === undefined ? { IfNoneMatch: "*" } : { IfMatch: quoted(expected) }).pipe(
          Effect.mapError((f) =>
            f.status === 412 || (f.status === 404 && expected !== undefined)
              ? new PreconditionFailed({ key })
              : fail("swap", key)(f)
          ),
          retry
        ),
      remove,
      removePrefix: (prefix) =>
        list(prefix).pipe(
          Effect.flatMap((objects) =>
            Effect.forEach(chunks(objects.map((o) => o.key), 1000), (keys) => removeBatch(prefix, keys), {
              discard: true
            })
          ),
          Effect.zipRight(abortUploads(prefix))
        ),
      upload: (localPath, key) =>
        Effect.scoped(Effect.gen(function*() {
          const source = yield* openHashedSource(localPath, key)
          const params = { Bucket, Key: root + key, Body: source.stream, ContentLength: source.size, IfNoneMatch: "*" }
          yield* call((abortSignal) => {
            const upload = new lib.Upload({ client, params, partSize: PART_BYTES, queueSize: UPLOAD_CONCURRENCY })
            abortSignal.addEventListener("abort", () => void upload.abort())
            return upload.done()
          }).pipe(Effect.mapError(fail("upload", key)))
          return { key, size: source.size, sha256: source.sha256() }
        })).pipe(retry),
      promote: (fromPrefix, toPrefix, keys) => promoteByCopy(fromPrefix, toPrefix, keys, list, copy),
      download: (key, localPath) =>
        call(async (abortSignal) => {
          const out = await client.send(new s3.GetObjectCommand({ Bucket, Key: root + key }), { abortSignal })
          return { key, ...(await writeHashedFile(out.Body as AsyncIterable<Uint8Array>, localPath)) }
        }).pipe(Effect.mapError(fail("read", key)), retry)
    }
    return repository
  })

/**
 * The S3 repository as the Repository service; the client is destroyed with the layer.
 *
 * @category layers
 */
export const layer = (config: S3RepositoryConfig): Layer.Layer<Repository, StorageError> =>
  Layer.scoped(Repository, makeS3Repository(config))
