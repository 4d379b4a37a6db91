// Read-only eyes on a bucket or container, through the vendor SDKs and not
// through relpub: what a cloud test asserts about a repository must not depend
// on the code under test. `put` exists only to stage what another writer would
// leave (relpub never calls it).
import { createHash } from "node:crypto"
import type { ServerInfo, ServerName } from "../contract/servers.ts"

/** One stored object; `key` is relative to the bucket. */
export interface StoredKey {
  readonly key: string
  readonly size: number
}

export interface ObjectStore {
  /** Every object under `prefix`, sorted by key. */
  readonly list: (prefix: string) => Promise<Array<StoredKey>>
  /** The object's bytes, or undefined when it does not exist. */
  readonly read: (key: string) => Promise<Buffer | undefined>
  /** Create-only write, straight to the server. */
  readonly put: (key: string, bytes: Uint8Array) => Promise<void>
  /** Unfinished uploads under `prefix`: S3 multipart uploads, Azure uncommitted blobs. */
  readonly pendingUploads: (prefix: string) => Promise<Array<string>>
  readonly close: () => Promise<void>
}

/** The key (under the root) where relpub caches what the backend probe found. */
export const GUARANTEES = ".relpub/guarantees.json"

const byKey = (a: StoredKey, b: StoredKey) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)

const s3Store = async (info: ServerInfo): Promise<ObjectStore> => {
  const s3 = await import("@aws-sdk/client-s3")
  const client = new s3.S3Client({
    endpoint: info.endpoint,
    region: info.region ?? "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: info.accessKeyId ?? "", secretAccessKey: info.secretAccessKey ?? "" },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED"
  })
  const Bucket = info.bucket
  return {
    list: async (prefix) => {
      const out: Array<StoredKey> = []
      let ContinuationToken: string | undefined
      do {
        const page = await client.send(new s3.ListObjectsV2Command({ Bucket, Prefix: prefix, ContinuationToken }))
        for (const o of page.Contents ?? []) out.push({ key: o.Key ?? "", size: o.Size ?? 0 })
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined
      } while (ContinuationToken !== undefined)
      return out.sort(byKey)
    },
    read: async (Key) => {
      try {
        const o = await client.send(new s3.GetObjectCommand({ Bucket, Key }))
        return Buffer.from(await o.Body!.transformToByteArray())
      } catch (e) {
        if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined
        throw e
      }
    },
    put: async (Key, bytes) => {
      await client.send(new s3.PutObjectCommand({ Bucket, Key, Body: bytes, IfNoneMatch: "*" }))
    },
    pendingUploads: async (prefix) => {
      const page = await client.send(new s3.ListMultipartUploadsCommand({ Bucket, Prefix: prefix }))
      return (page.Uploads ?? []).map((u) => u.Key ?? "")
    },
    close: async () => client.destroy()
  }
}

const gcsStore = async (info: ServerInfo): Promise<ObjectStore> => {
  const { Storage } = await import("@google-cloud/storage")
  const bucket = new Storage({ apiEndpoint: info.endpoint, projectId: info.projectId ?? "test" })
    .bucket(info.bucket)
  return {
    list: async (prefix) => {
      const [files] = await bucket.getFiles({ prefix })
      return files.map((f) => ({ key: f.name, size: Number(f.metadata.size ?? 0) })).sort(byKey)
    },
    read: async (key) => {
      try {
        const [bytes] = await bucket.file(key).download()
        return bytes
      } catch (e) {
        if ((e as { code?: unknown }).code === 404) return undefined
        throw e
      }
    },
    put: async (key, bytes) => {
      await bucket.file(key).save(Buffer.from(bytes), {
        resumable: false,
        preconditionOpts: { ifGenerationMatch: 0 }
      })
    },
    // A single-request upload leaves nothing behind when it fails.
    pendingUploads: async () => [],
    close: async () => {}
  }
}

const azureStore = async (info: ServerInfo): Promise<ObjectStore> => {
  const { BlobServiceClient } = await import("@azure/storage-blob")
  const container = BlobServiceClient.fromConnectionString(info.connectionString ?? "")
    .getContainerClient(info.container ?? info.bucket)
  const names = async (prefix: string, includeUncommitedBlobs: boolean) => {
    const out: Array<StoredKey> = []
    for await (const b of container.listBlobsFlat({ prefix, includeUncommitedBlobs })) {
      out.push({ key: b.name, size: b.properties.contentLength ?? 0 })
    }
    return out.sort(byKey)
  }
  return {
    list: (prefix) => names(prefix, false),
    read: async (key) => {
      try {
        return await container.getBlockBlobClient(key).downloadToBuffer()
      } catch (e) {
        if ((e as { statusCode?: number }).statusCode === 404) return undefined
        throw e
      }
    },
    put: async (key, bytes) => {
      await container.getBlockBlobClient(key).upload(bytes, bytes.length, {
        conditions: { ifNoneMatch: "*" }
      })
    },
    pendingUploads: async (prefix) => {
      const committed = new Set((await names(prefix, false)).map((o) => o.key))
      return (await names(prefix, true)).map((o) => o.key).filter((k) => !committed.has(k))
    },
    close: async () => {}
  }
}

/** An SDK client for the bucket (or container) of a test server. */
export const openStore = (name: ServerName, info: ServerInfo): Promise<ObjectStore> => {
  switch (name) {
    case "seaweedfs":
    case "moto":
      return s3Store(info)
    case "gcs":
      return gcsStore(info)
    case "azurite":
      return azureStore(info)
  }
}

export const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex")

/** One audit record of the chain, newest first. */
export interface AuditLink {
  readonly key: string
  readonly sequence: number
  readonly event: string
  readonly version: string
}

export interface StoreCheck {
  /** Every broken invariant, in words; empty when the repository is consistent. */
  readonly problems: ReadonlyArray<string>
  /** index.json, or undefined when the repository was never written. */
  readonly index: any
  readonly chain: ReadonlyArray<AuditLink>
  /** Every key under the repository root, relative to it. */
  readonly keys: ReadonlyArray<string>
}

const parse = (bytes: Buffer): any => JSON.parse(bytes.toString("utf8"))

/**
 * Check the repository at `root/` of a bucket at rest against DESIGN.md, as
 * test/support/cli.ts's checkRepository does for a local one: each indexed
 * version has a release record matching the index, whose files are present
 * with their SHA-256 and size and nothing else; every release record is
 * indexed; nothing but the probe cache is left under `.relpub/` and no upload
 * is unfinished; the
 * audit chain links each record to the exact bytes of the previous. A root
 * that holds nothing at all is a consistent empty repository.
 */
export const checkStore = async (store: ObjectStore, root: string): Promise<StoreCheck> => {
  const base = `${root}/`
  const listed = await store.list(base)
  const keys = listed.map((o) => o.key.slice(base.length))
  const problems: Array<string> = []
  const pending = await store.pendingUploads(base)
  if (pending.length > 0) problems.push(`unfinished uploads: ${pending.join(", ")}`)
  // .relpub/guarantees.json is the cached finding of the backend probe, kept on purpose.
  const leftovers = keys.filter((k) => k.startsWith(".relpub/") && k !== GUARANTEES)
  if (leftovers.length > 0) problems.push(`left under .relpub/: ${leftovers.join(", ")}`)

  const indexBytes = await store.read(`${base}index.json`)
  if (indexBytes === undefined) {
    const written = keys.filter((k) => !k.startsWith(".relpub/"))
    if (written.length > 0) problems.push(`index.json is missing, but ${written.join(", ")} exist`)
    return { problems, index: undefined, chain: [], keys }
  }
  const index = parse(indexBytes)
  if (!keys.includes("index.md")) problems.push("index.md is missing")
  const versions: Array<string> = index.releases.map((r: any) => r.version)
  if (new Set(versions).size !== versions.length) problems.push(`index lists a version twice: ${versions}`)
  if (index.total_releases !== versions.length) {
    problems.push(`total_releases ${index.total_releases} but ${versions.length} releases listed`)
  }
  for (const entry of index.releases) {
    const dir = `releases/${entry.version}/`
    const recordBytes = await store.read(`${base}${dir}release.json`)
    if (recordBytes === undefined) {
      problems.push(`${entry.version}: listed but has no release.json`)
      continue
    }
    if (sha256(recordBytes) !== entry.release_record_sha256) {
      problems.push(`${entry.version}: release.json does not match the index's release_record_sha256`)
    }
    const record = parse(recordBytes)
    const sums = [...record.files]
      .sort((a: any, b: any) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)))
      .map((f: any) => `${f.sha256}  ${f.path}\n`).join("")
    if (sha256(Buffer.from(sums)) !== record.sha256) problems.push(`${entry.version}: record sha256 is wrong`)
    for (const f of record.files) {
      const bytes = await store.read(`${base}${dir}${f.path}`)
      if (bytes === undefined) problems.push(`${entry.version}/${f.path}: missing`)
      else if (bytes.length !== f.size || sha256(bytes) !== f.sha256) {
        problems.push(`${entry.version}/${f.path}: size or SHA-256 differs from release.json`)
      }
    }
    const expected = new Set([...record.files.map((f: any) => f.path), "release.json", "release.json.sig"])
    for (const extra of keys.filter((k) => k.startsWith(dir) && !expected.has(k.slice(dir.length)))) {
      problems.push(`${extra}: not in release.json`)
    }
  }
  const dirs = new Set(keys.filter((k) => k.startsWith("releases/")).map((k) => k.split("/")[1]!))
  for (const v of dirs) {
    if (versions.includes(v)) continue
    problems.push(keys.includes(`releases/${v}/release.json`)
      ? `${v}: has release.json but is not in the index`
      : `releases/${v}/: leftover`)
  }

  const chain: Array<AuditLink> = []
  let pointer = index.audit_head
  while (pointer !== null && pointer !== undefined && chain.length <= 10_000) {
    const bytes = await store.read(`${base}${pointer.key}`)
    if (bytes === undefined) {
      problems.push(`audit record ${pointer.key} is missing`)
      break
    }
    if (sha256(bytes) !== pointer.sha256) problems.push(`${pointer.key}: bytes do not match the pointer to it`)
    const record = parse(bytes)
    if (record.sequence !== pointer.sequence) problems.push(`${pointer.key}: sequence ${record.sequence}`)
    chain.push({ key: pointer.key, sequence: record.sequence, event: record.event, version: record.version })
    if (record.previous === null && record.sequence !== 1) problems.push(`${pointer.key}: chain ends early`)
    pointer = record.previous
  }
  return { problems, index, chain, keys }
}

/** Every object under `root/` with the SHA-256 of its bytes: a snapshot to compare before and after. */
export const snapshotStore = async (
  store: ObjectStore,
  root: string,
  exclude: (key: string) => boolean = () => false
): Promise<Record<string, string>> => {
  const out: Record<string, string> = {}
  for (const { key } of await store.list(`${root}/`)) {
    const rel = key.slice(root.length + 1)
    if (exclude(rel)) continue
    const bytes = await store.read(key)
    out[rel] = bytes === undefined ? "vanished" : sha256(bytes)
  }
  return out
}
