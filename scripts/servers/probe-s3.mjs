// Conditional-write probe for an S3-compatible server (SeaweedFS, moto, or a
// user's endpoint), with the client settings relpub uses.
import { Checks, outcome, OP_TIMEOUT_MS, RACERS, uniquePrefix } from "./probe-util.mjs"

const statusOf = (err) => [err?.$metadata?.httpStatusCode, err?.Code ?? err?.name ?? err?.code]

function makeClient(s3, server) {
  return new s3.S3Client({
    endpoint: server.endpoint,
    region: server.region ?? "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 1 // observe the server's answer, not the SDK's retries
  })
}

export async function probeS3(server) {
  const s3 = await import("@aws-sdk/client-s3")
  const client = makeClient(s3, server)
  const Bucket = server.bucket
  const prefix = uniquePrefix()
  const send = (command) => client.send(command, { abortSignal: AbortSignal.timeout(OP_TIMEOUT_MS) })
  const put = (Key, Body, conditions = {}) => outcome(() => send(new s3.PutObjectCommand({ Bucket, Key, Body, ...conditions })), statusOf)
  const read = async (Key) => (await send(new s3.GetObjectCommand({ Bucket, Key }))).Body.transformToString()

  async function multipart(Key, conditions) {
    const { UploadId } = await send(new s3.CreateMultipartUploadCommand({ Bucket, Key }))
    const part = await send(new s3.UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: "multipart body" }))
    const MultipartUpload = { Parts: [{ PartNumber: 1, ETag: part.ETag }] }
    return outcome(() => send(new s3.CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload, ...conditions })), statusOf)
  }
  const copy = (Key, from, conditions) =>
    outcome(() => send(new s3.CopyObjectCommand({ Bucket, Key, CopySource: `${Bucket}/${from}`, ...conditions })), statusOf)

  const c = new Checks()
  try {
    const key = `${prefix}once`
    const first = await c.expect("PutObject If-None-Match:* (new key)", ["200"], () => put(key, "first", { IfNoneMatch: "*" }))
    await c.expect("PutObject If-None-Match:* (existing key)", ["412", "409"], () => put(key, "second", { IfNoneMatch: "*" }))
    await c.race(`${RACERS} racing PutObject If-None-Match:*`, "one 200, rest 412/409", async (round) => {
      const k = `${prefix}race-create-${round}`
      return { write: (body) => put(k, body, { IfNoneMatch: "*" }), read: () => read(k) }
    })

    const etag = first.value?.ETag
    await c.expect("PutObject If-Match: current ETag", ["200"], () => put(key, "swapped", { IfMatch: etag }))
    await c.expect("PutObject If-Match: stale ETag", ["412"], () => put(key, "stale", { IfMatch: etag }))
    await c.expect("PutObject If-Match on missing key", ["404", "412"], () => put(`${prefix}missing`, "x", { IfMatch: etag ?? '"0"' }))
    await c.race(`${RACERS} racing PutObject If-Match: same ETag`, "one 200, rest 412/409", async (round) => {
      const k = `${prefix}race-cas-${round}`
      const base = await put(k, "base")
      return { write: (body) => put(k, body, { IfMatch: base.value?.ETag }), read: () => read(k) }
    })

    const mpuKey = `${prefix}multipart`
    await c.expect("CompleteMultipartUpload If-None-Match:* (new key)", ["200"], () => multipart(mpuKey, { IfNoneMatch: "*" }))
    await c.expect("CompleteMultipartUpload If-None-Match:* (existing)", ["412", "409"], () => multipart(mpuKey, { IfNoneMatch: "*" }))
    await c.expect("CopyObject If-None-Match:* (new destination)", ["200"], () => copy(`${prefix}copy`, key, { IfNoneMatch: "*" }))
    await c.expect("CopyObject If-None-Match:* (existing destination)", ["412", "409"], () => copy(`${prefix}copy`, key, { IfNoneMatch: "*" }))
  } finally {
    client.destroy()
  }
  return c.rows
}
