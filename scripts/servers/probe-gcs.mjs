// Conditional-write probe for a GCS JSON API endpoint (fake-gcs-server or a
// user's endpoint) with @google-cloud/storage, as relpub configures it.
import { Checks, outcome, RACERS, uniquePrefix } from "./probe-util.mjs"

const statusOf = (err) => [
  typeof err?.code === "number" ? err.code : undefined,
  err?.errors?.[0]?.reason ?? (typeof err?.code === "string" ? err.code : undefined)
]

export async function probeGcs(server) {
  const { Storage } = await import("@google-cloud/storage")
  const storage = new Storage({
    apiEndpoint: server.endpoint,
    projectId: server.projectId ?? "test",
    retryOptions: { autoRetry: false }, // observe the server's answer, not the client's retries
    timeout: 20_000
  })
  const bucket = storage.bucket(server.bucket)
  const prefix = uniquePrefix()
  const save = (name, body, preconditionOpts, resumable = false) =>
    outcome(async () => {
      const file = bucket.file(name)
      await file.save(Buffer.from(body), { resumable, preconditionOpts })
      return file.metadata
    }, statusOf)
  const read = async (name) => (await bucket.file(name).download())[0].toString("utf8")
  const copy = (from, to, preconditionOpts) => outcome(() => bucket.file(from).copy(bucket.file(to), { preconditionOpts }), statusOf)

  const c = new Checks()
  const name = `${prefix}once`
  const first = await c.expect("save ifGenerationMatch=0 (new object)", ["200"], () => save(name, "first", { ifGenerationMatch: 0 }))
  await c.expect("save ifGenerationMatch=0 (existing)", ["412"], () => save(name, "second", { ifGenerationMatch: 0 }))
  const hashes = first.value ? `md5Hash ${first.value.md5Hash ? "yes" : "no"}, crc32c ${first.value.crc32c ? "yes" : "no"}` : first.label
  c.add("upload response has md5Hash and crc32c", "both", hashes, hashes === "md5Hash yes, crc32c yes")
  await c.race(`${RACERS} racing save ifGenerationMatch=0`, "one 200, rest 412", async (round) => {
    const n = `${prefix}race-create-${round}`
    return { write: (body) => save(n, body, { ifGenerationMatch: 0 }), read: () => read(n) }
  })

  const generation = first.value?.generation
  await c.expect("save ifGenerationMatch=current", ["200"], () => save(name, "swapped", { ifGenerationMatch: generation }))
  await c.expect("save ifGenerationMatch=stale", ["412"], () => save(name, "stale", { ifGenerationMatch: generation }))
  await c.expect("save ifGenerationMatch=N (missing object)", ["412", "404"], () => save(`${prefix}missing`, "x", { ifGenerationMatch: 1 }))
  await c.race(`${RACERS} racing save ifGenerationMatch=same gen`, "one 200, rest 412", async (round) => {
    const n = `${prefix}race-cas-${round}`
    const base = await save(n, "base")
    return { write: (body) => save(n, body, { ifGenerationMatch: base.value?.generation }), read: () => read(n) }
  })

  await c.expect("resumable save ifGenerationMatch=0 (existing)", ["412"], () => save(name, "resumable", { ifGenerationMatch: 0 }, true))
  await c.expect("copy ifGenerationMatch=0 (new destination)", ["200"], () => copy(name, `${prefix}copy`, { ifGenerationMatch: 0 }))
  await c.expect("copy ifGenerationMatch=0 (existing destination)", ["412"], () => copy(name, `${prefix}copy`, { ifGenerationMatch: 0 }))
  return c.rows
}
