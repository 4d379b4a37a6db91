// Tests of S3-only behaviour, added to the contract suite of each S3 server.
import { assert } from "@effect/vitest"
import { Effect, Option, Redacted } from "effect"
import { createHash } from "node:crypto"
import * as S3Repository from "../../src/services/S3Repository.ts"
import type { ContractOptions, ContractTest } from "./repositoryContract.ts"
import type { ServerInfo } from "./servers.ts"

export const ROOT = "repo"

/** The repository config for a test server; `pageSize` 7 makes listings paginate. */
export const s3Config = (info: ServerInfo): S3Repository.S3RepositoryConfig => ({
  bucket: info.bucket,
  prefix: ROOT,
  endpoint: info.endpoint,
  region: info.region,
  forcePathStyle: true,
  credentials: {
    accessKeyId: info.accessKeyId ?? "",
    secretAccessKey: Redacted.make(info.secretAccessKey ?? "")
  },
  pageSize: 7
})

// A raw SDK client, to set up what the repository never does on its own.
type S3 = typeof import("@aws-sdk/client-s3")
type Client = InstanceType<S3["S3Client"]>
const withClient = <A>(info: ServerInfo, use: (s3: S3, client: Client) => Promise<A>) =>
  Effect.promise(async () => {
    const s3 = await import("@aws-sdk/client-s3")
    const client = new s3.S3Client({
      endpoint: info.endpoint,
      region: info.region ?? "us-east-1",
      forcePathStyle: true,
      credentials: {
        accessKeyId: info.accessKeyId ?? "",
        secretAccessKey: info.secretAccessKey ?? ""
      }
    })
    try {
      return await use(s3, client)
    } finally {
      client.destroy()
    }
  })

const abortsMultipart = (info: () => ServerInfo): ContractTest => (repo, { ns }) =>
  Effect.gen(function*() {
    const Bucket = info().bucket
    yield* withClient(info(), (s3, c) =>
      c.send(new s3.CreateMultipartUploadCommand({ Bucket, Key: `${ROOT}/${ns}staging/cut.bin` })))
    yield* repo.create(`${ns}staging/done.bin`, new Uint8Array(3))
    yield* repo.removePrefix(`${ns}staging/`)
    const left = yield* withClient(info(), (s3, c) =>
      c.send(new s3.ListMultipartUploadsCommand({ Bucket, Prefix: `${ROOT}/${ns}` })))
    assert.strictEqual(left.Uploads?.length ?? 0, 0)
    assert.deepStrictEqual(yield* repo.list(`${ns}staging/`), [])
  })

const reportsChecksum: ContractTest = (repo, { ns }) =>
  Effect.gen(function*() {
    const bytes = new TextEncoder().encode("checked by the server")
    yield* repo.create(`${ns}checked.json`, bytes)
    const head = Option.getOrThrow(yield* repo.head(`${ns}checked.json`))
    assert.strictEqual(head.sha256, createHash("sha256").update(bytes).digest("hex"))
  })

/** Extra tests for S3 servers; `checksums`: the server stores and returns x-amz-checksum-sha256. */
export const s3Extras = (
  info: () => ServerInfo,
  checksums: boolean
): NonNullable<ContractOptions["extra"]> => [
  ["removePrefix aborts unfinished multipart uploads under the prefix", abortsMultipart(info)],
  ...(checksums
    ? [["head reports the SHA-256 the server checked on create", reportsChecksum] as const]
    : [])
]
