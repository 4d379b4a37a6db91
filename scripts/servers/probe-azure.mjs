// Conditional-write probe for Azure Blob (Azurite or a user's account) with
// @azure/storage-blob, as relpub configures it.
import { Checks, outcome, OP_TIMEOUT_MS, RACERS, uniquePrefix } from "./probe-util.mjs"

const statusOf = (err) => [err?.statusCode, err?.code ?? err?.details?.errorCode]

export async function probeAzure(server) {
  const { BlobServiceClient } = await import("@azure/storage-blob")
  const service = BlobServiceClient.fromConnectionString(server.connectionString, { retryOptions: { maxTries: 1 } })
  const container = service.getContainerClient(server.container ?? server.bucket)
  const prefix = uniquePrefix()
  const opts = (conditions) => ({ conditions, abortSignal: AbortSignal.timeout(OP_TIMEOUT_MS) })
  const blob = (name) => container.getBlockBlobClient(name)
  const upload = (name, body, conditions = {}) =>
    outcome(() => blob(name).upload(body, Buffer.byteLength(body), opts(conditions)), statusOf, "201")
  const read = async (name) => (await blob(name).downloadToBuffer()).toString("utf8")

  async function commitBlocks(name, conditions) {
    const blockId = Buffer.from("block-000001").toString("base64")
    await blob(name).stageBlock(blockId, "block body", 10)
    return outcome(() => blob(name).commitBlockList([blockId], opts(conditions)), statusOf, "201")
  }
  const copy = (from, to, conditions) =>
    outcome(async () => (await blob(to).beginCopyFromURL(blob(from).url, opts(conditions))).pollUntilDone(), statusOf, "202")

  const c = new Checks()
  const name = `${prefix}once`
  const first = await c.expect("upload ifNoneMatch:* (new blob)", ["201"], () => upload(name, "first", { ifNoneMatch: "*" }))
  await c.expect("upload ifNoneMatch:* (existing)", ["409", "412"], () => upload(name, "second", { ifNoneMatch: "*" }))
  await c.race(`${RACERS} racing upload ifNoneMatch:*`, "one 201, rest 409/412", async (round) => {
    const n = `${prefix}race-create-${round}`
    return { write: (body) => upload(n, body, { ifNoneMatch: "*" }), read: () => read(n) }
  })

  const etag = first.value?.etag
  await c.expect("upload ifMatch: current ETag", ["201"], () => upload(name, "swapped", { ifMatch: etag }))
  await c.expect("upload ifMatch: stale ETag", ["412"], () => upload(name, "stale", { ifMatch: etag }))
  await c.expect("upload ifMatch on missing blob", ["404", "412"], () => upload(`${prefix}missing`, "x", { ifMatch: etag ?? '"0"' }))
  await c.race(`${RACERS} racing upload ifMatch: same ETag`, "one 201, rest 412", async (round) => {
    const n = `${prefix}race-cas-${round}`
    const base = await upload(n, "base")
    return { write: (body) => upload(n, body, { ifMatch: base.value?.etag }), read: () => read(n) }
  })

  await c.expect("commitBlockList ifNoneMatch:* (new blob)", ["201"], () => commitBlocks(`${prefix}blocks`, { ifNoneMatch: "*" }))
  await c.expect("commitBlockList ifNoneMatch:* (existing)", ["409", "412"], () => commitBlocks(`${prefix}blocks`, { ifNoneMatch: "*" }))
  await c.expect("beginCopyFromURL ifNoneMatch:* (new destination)", ["202"], () => copy(name, `${prefix}copy`, { ifNoneMatch: "*" }))
  await c.expect("beginCopyFromURL ifNoneMatch:* (existing destination)", ["409", "412"], () => copy(name, `${prefix}copy`, { ifNoneMatch: "*" }))
  return c.rows
}
