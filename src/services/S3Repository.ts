import type { S3ClientConfig } from "@aws-sdk/client-s3"
import { Effect, Layer, Option, Redacted, type Scope } from "effect"
import { PreconditionFailed, type StorageError } from "../domain/Errors.ts"
import {
  openUploadSource,
  sending,
  type UploadSource,
  writeHashedFile
} from "./internal/fileTransfer.ts"
import * as Store from "./internal/objectStore.ts"
import type { FileDigest } from "./Hasher.ts"
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
  readonly credentials?:
    | {
        readonly accessKeyId: string
        readonly secretAccessKey: Redacted.Redacted<string>
        readonly sessionToken?: Redacted.Redacted<string> | undefined
      }
    | undefined
  /** `in-place` (default, faster): stage inside the release directory; `copy`: CopyObject. */
  readonly staging?: "in-place" | "copy" | undefined
  /** Send `x-amz-checksum-sha256` with create/swap bodies, checked by the server (default on). */
  readonly checksumSha256?: boolean | undefined
  /** Keys per ListObjectsV2 page (default 1000). */
  readonly pageSize?: number | undefined
  readonly retry?: Store.RetryPolicy | undefined
}

const call = Store.sdkCall((error) => {
  const e = error as { $metadata?: { httpStatusCode?: number }; name?: string; Code?: string }
  return new Store.SdkFailure(error, e?.$metadata?.httpStatusCode, e?.Code ?? e?.name)
})
// 409 ConditionalRequestConflict: another conditional write to the key was in flight.
const RETRYABLE_CODES = ["ConditionalRequestConflict", "OperationAborted", "SlowDown"]
const {
  fail,
  missing,
  create,
  swap,
  remove: removed
} = Store.failures(RETRYABLE_CODES, (f) => f.status === 412)

const tokenOf = (etag: string | undefined) => (etag ?? "").replace(/^W\//, "").replace(/"/g, "")
const quoted = (token: string) => `"${token}"`
type Condition = { IfNoneMatch: "*" } | { IfMatch: string }
// Replace only `expected`; undefined: only if absent.
const conditionOf = (expected: string | undefined): Condition =>
  expected === undefined ? { IfNoneMatch: "*" } : { IfMatch: quoted(expected) }
// Only a full-object SHA-256 (a multipart checksum of checksums ends in "-N").
const sha256Of = (checksum: string | undefined, type: string | undefined) =>
  checksum === undefined || checksum.includes("-") || type === "COMPOSITE"
    ? undefined
    : Buffer.from(checksum, "base64").toString("hex")

const ignore = () => undefined
const silent = { trace: ignore, debug: ignore, info: ignore, warn: ignore, error: ignore }

const clientConfig = ({ credentials: c, endpoint, ...config }: S3RepositoryConfig) =>
  ({
    ...((config.region ?? endpoint) && { region: config.region ?? "us-east-1" }),
    ...(endpoint && { endpoint }),
    forcePathStyle: config.forcePathStyle ?? false,
    ...(c && {
      credentials: {
        accessKeyId: c.accessKeyId,
        secretAccessKey: Redacted.value(c.secretAccessKey),
        ...(c.sessionToken && { sessionToken: Redacted.value(c.sessionToken) })
      }
    }),
    // Non-AWS servers reject the default CRC32 trailers (ECOSYSTEM.md, S3 row).
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    // Retries are ours: one Schedule, retryable errors only.
    maxAttempts: 1,
    // Without a logger the SDK warns on the console about every failed
    // streamed upload; failures reach the caller as typed errors instead.
    logger: silent
  }) satisfies S3ClientConfig

/**
 * An S3 repository. Create-only writes are `If-None-Match: *` (412: the key
 * exists; 409 ConditionalRequestConflict: a concurrent conditional write,
 * retried), swaps `If-Match` on the ETag. Uploads stream the file through a
 * SHA-256 hash straight into one PutObject, with the verified SHA-256 as
 * `x-amz-checksum-sha256` for the server to check, or above
 * SINGLE_PUT_BYTES into a multipart upload; `If-None-Match: *` on the PUT or
 * CompleteMultipartUpload. The SDK is loaded when the layer is built.
 *
 * @category constructors
 */
export const makeS3Repository = (
  config: S3RepositoryConfig
): Effect.Effect<RepositoryShape, StorageError, Scope.Scope> =>
  Effect.gen(function* () {
    const root = Store.rootPrefix(config.prefix)
    const location = Store.scrub(
      `s3://${config.bucket}/${root}${config.endpoint ? ` (${config.endpoint})` : ""}`
    )
    const sdk = yield* Effect.tryPromise({
      try: () => import("@aws-sdk/client-s3"),
      catch: (e) => Store.setupError(location, String(e))
    })
    const client = yield* Effect.acquireRelease(
      Effect.sync(() => new sdk.S3(clientConfig(config))),
      (c) => Effect.sync(() => c.destroy())
    )
    const Bucket = config.bucket
    const policy = config.retry ?? Store.defaultRetry
    const retry = Store.withRetry(policy)
    const at = (key: string) => ({ Bucket, Key: root + key })

    const read = (key: string) =>
      call(async (abortSignal) => {
        const o = await client.getObject(at(key), { abortSignal })
        return Option.some({ bytes: await o.Body!.transformToByteArray(), etag: tokenOf(o.ETag) })
      }).pipe(Effect.catchAll(missing(key)), retry)

    const put = (key: string, bytes: Uint8Array, condition: Condition) => {
      const digest = Store.sha256(bytes)
      const checksum = config.checksumSha256 !== false && {
        ChecksumSHA256: digest.copy().digest("base64")
      }
      const body = { Body: bytes, ContentLength: bytes.length }
      const input = { ...at(key), ...body, ...condition, ...checksum }
      return call((abortSignal) => client.putObject(input, { abortSignal })).pipe(
        Effect.map((o): ObjectInfo => {
          const sha256 = digest.digest("hex")
          return { key, size: bytes.length, etag: tokenOf(o.ETag), sha256 }
        })
      )
    }

    const list = (prefix: string) =>
      Store.allPages((ContinuationToken) =>
        call((abortSignal) =>
          client.listObjectsV2(
            { Bucket, Prefix: root + prefix, MaxKeys: config.pageSize ?? 1000, ContinuationToken },
            { abortSignal }
          )
        ).pipe(
          Effect.map(
            (page) =>
              [
                (page.Contents ?? []).map((o) => ({
                  key: (o.Key ?? "").slice(root.length),
                  size: o.Size ?? 0,
                  etag: tokenOf(o.ETag)
                })),
                page.IsTruncated ? page.NextContinuationToken : undefined
              ] as const
          ),
          Effect.mapError(fail("list", prefix)),
          retry
        )
      )

    const head = (key: string) =>
      call((abortSignal) =>
        client.headObject({ ...at(key), ChecksumMode: "ENABLED" }, { abortSignal })
      ).pipe(
        Effect.map((o) => {
          const sha256 = sha256Of(o.ChecksumSHA256, o.ChecksumType)
          const size = o.ContentLength ?? 0
          return Option.some<ObjectInfo>({ key, size, etag: tokenOf(o.ETag), sha256 })
        }),
        Effect.catchAll(missing(key)),
        retry
      )

    // Unfinished multipart uploads under `prefix` (an interrupted upload leaves its parts).
    const abortUploads = (prefix: string, marker = {}): Effect.Effect<void, StorageError> =>
      call((abortSignal) =>
        client.listMultipartUploads({ Bucket, Prefix: root + prefix, ...marker }, { abortSignal })
      ).pipe(
        Effect.mapError(fail("delete", prefix)),
        retry,
        Effect.tap((page) =>
          Effect.forEach(
            page.Uploads ?? [],
            ({ Key, UploadId }) =>
              call((abortSignal) =>
                client.abortMultipartUpload({ Bucket, Key, UploadId }, { abortSignal })
              ).pipe(
                Effect.catchAll((f) =>
                  f.status === 404 ? Effect.void : Effect.fail(fail("delete", prefix)(f))
                ),
                retry
              ),
            { concurrency: Store.SERVER_SIDE_CONCURRENCY, discard: true }
          )
        ),
        Effect.flatMap((page) =>
          page.IsTruncated
            ? abortUploads(prefix, {
                KeyMarker: page.NextKeyMarker,
                UploadIdMarker: page.NextUploadIdMarker
              })
            : Effect.void
        )
      )

    const removeBatch = (prefix: string, keys: ReadonlyArray<string>) =>
      call((abortSignal) =>
        client.deleteObjects(
          { Bucket, Delete: { Objects: keys.map((k) => ({ Key: root + k })), Quiet: true } },
          { abortSignal }
        )
      ).pipe(
        Effect.flatMap(({ Errors = [] }) => {
          const first = Errors[0]
          if (first === undefined) return Effect.void
          const error = new Error(`${Errors.length} objects not deleted: ${first.Message}`)
          return Effect.fail(new Store.SdkFailure(error, undefined, first.Code))
        }),
        Effect.mapError(fail("delete", prefix)),
        retry
      )

    const copy = (from: string, to: string) => {
      const CopySource = `${Bucket}/${encodeURIComponent(root + from).replace(/%2F/g, "/")}`
      return call((abortSignal) =>
        client.copyObject({ ...at(to), CopySource, IfNoneMatch: "*" }, { abortSignal })
      ).pipe(Effect.mapError(create("promote", to)), retry, Effect.asVoid)
    }

    const remove = (
      key: string,
      expected?: string
    ): Effect.Effect<void, PreconditionFailed | StorageError> => {
      const ifMatch = expected === undefined ? {} : { IfMatch: quoted(expected) }
      const del = call((abortSignal) =>
        client.deleteObject({ ...at(key), ...ifMatch }, { abortSignal })
      ).pipe(Effect.asVoid, Effect.catchAll(removed(key, expected)), retry)
      if (expected === undefined) return del
      // The head also refuses a stale token on servers that ignore If-Match on DELETE.
      return head(key).pipe(
        Effect.filterOrFail(
          (o) => Option.isSome(o) && o.value.etag === expected,
          () => new PreconditionFailed({ key })
        ),
        Effect.zipRight(del)
      )
    }

    // One PutObject streamed from the file: no buffering, no payload hash by
    // the SDK (UNSIGNED-PAYLOAD; the body is covered by the checksum below).
    const putFile = (source: UploadSource, key: string, checksum: object) =>
      call((abortSignal) => {
        const { stream, read } = source.range(0, source.size)
        return sending(read, abortSignal, (signal) =>
          client.putObject(
            { ...at(key), Body: stream, ContentLength: source.size, IfNoneMatch: "*", ...checksum },
            { abortSignal: signal }
          )
        )
      })

    // Multipart, for files above SINGLE_PUT_BYTES. The parts are read in file
    // order through the one hash: part n+1 starts once part n is read to its
    // end, while part n still waits for its answer (at most
    // UPLOAD_CONCURRENCY parts in flight). Parts stream from the file; nothing
    // is buffered. The completion is create-only; any failure aborts the upload.
    const multipartFile = (source: UploadSource, key: string) =>
      call(async (abortSignal) => {
        const { UploadId } = await client.createMultipartUpload(at(key), { abortSignal })
        try {
          const partBytes = Store.partBytesFor(source.size)
          const inFlight: Array<Promise<unknown>> = []
          const parts: Array<Promise<{ PartNumber: number; ETag: string | undefined }>> = []
          for (let start = 0, PartNumber = 1; start < source.size; start += partBytes) {
            const end = Math.min(source.size, start + partBytes)
            const { stream, read } = source.range(start, end)
            const n = PartNumber++
            const part = sending(read, abortSignal, (signal) =>
              client.uploadPart(
                { ...at(key), UploadId, PartNumber: n, Body: stream, ContentLength: end - start },
                { abortSignal: signal }
              )
            ).then((o) => ({ PartNumber: n, ETag: o.ETag }))
            part.catch(() => undefined)
            parts.push(part)
            inFlight.push(part)
            await Promise.race([read, part])
            if (inFlight.length >= Store.UPLOAD_CONCURRENCY) await inFlight.shift()
          }
          const Parts = await Promise.all(parts)
          return await client.completeMultipartUpload(
            { ...at(key), UploadId, MultipartUpload: { Parts }, IfNoneMatch: "*" },
            { abortSignal }
          )
        } catch (e) {
          await client.abortMultipartUpload({ ...at(key), UploadId }).catch(() => undefined)
          throw e
        }
      })

    const upload = (localPath: string, key: string, verified?: FileDigest) =>
      Effect.scoped(
        Effect.gen(function* () {
          const source = yield* openUploadSource(localPath, key, verified)
          // The server checks the verified SHA-256 of a single-request body (BadDigest if not).
          const checksum =
            config.checksumSha256 !== false && verified !== undefined
              ? { ChecksumSHA256: Buffer.from(verified.sha256, "hex").toString("base64") }
              : {}
          yield* (
            source.size <= Store.SINGLE_PUT_BYTES
              ? putFile(source, key, checksum)
              : multipartFile(source, key)
          ).pipe(Effect.mapError(fail("upload", key)))
          return { key, size: source.size, sha256: source.sha256() }
        })
      ).pipe(retry)

    const repository: RepositoryShape = {
      kind: "s3",
      location,
      stagingMode: config.staging === "copy" ? "separate" : "in-place",
      read,
      head,
      list,
      create: (key, bytes) => {
        const write = Effect.mapError(put(key, bytes, { IfNoneMatch: "*" }), create("create", key))
        return Store.conditionalWrite(key, bytes, write, read(key), policy)
      },
      swap: (key, bytes, expected) => {
        const write = Effect.mapError(put(key, bytes, conditionOf(expected)), swap(key, expected))
        return Store.conditionalWrite(key, bytes, write, read(key), policy)
      },
      remove,
      removePrefix: (prefix) =>
        list(prefix).pipe(
          Effect.map((objects) =>
            Store.chunks(
              objects.map((o) => o.key),
              1000
            )
          ),
          Effect.flatMap(Effect.forEach((keys) => removeBatch(prefix, keys), { discard: true })),
          Effect.zipRight(abortUploads(prefix))
        ),
      upload,
      promote: (fromPrefix, toPrefix, keys) =>
        Store.promoteByCopy(fromPrefix, toPrefix, keys, list, copy),
      download: (key, localPath) =>
        call(async (abortSignal) => {
          const o = await client.getObject(at(key), { abortSignal })
          return { key, ...(await writeHashedFile(o.Body as AsyncIterable<Uint8Array>, localPath)) }
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
