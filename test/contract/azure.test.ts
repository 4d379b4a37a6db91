import { assert } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as AzureRepository from "../../src/services/AzureRepository.ts"
import { type ContractTest, repositoryContract } from "./repositoryContract.ts"
import { type ServerInfo, serverFor } from "./servers.ts"

const server = serverFor("azurite")
const ROOT = "repo"
let info: ServerInfo | undefined

// A raw SDK client, to set up what the repository never leaves on its own.
const container = () =>
  Effect.promise(async () => {
    const { BlobServiceClient } = await import("@azure/storage-blob")
    return BlobServiceClient.fromConnectionString(info!.connectionString ?? "")
      .getContainerClient(info!.container ?? info!.bucket)
  })

const blobNames = (prefix: string, includeUncommitedBlobs: boolean) =>
  Effect.flatMap(container(), (c) =>
    Effect.promise(async () => {
      const names: Array<string> = []
      for await (const b of c.listBlobsFlat({ prefix, includeUncommitedBlobs })) names.push(b.name)
      return names
    }))

// An interrupted staged-block upload: blocks staged, no block list committed.
const discardsStagedBlocks: ContractTest = (repo, { ns }) =>
  Effect.gen(function*() {
    const c = yield* container()
    const cut = c.getBlockBlobClient(`${ROOT}/${ns}staging/cut.bin`)
    const blockId = Buffer.from("block-000001").toString("base64")
    yield* Effect.promise(() => cut.stageBlock(blockId, Buffer.from("half a file"), 11))
    assert.deepStrictEqual(yield* blobNames(`${ROOT}/${ns}`, true), [`${ROOT}/${ns}staging/cut.bin`])
    yield* repo.create(`${ns}staging/done.bin`, new Uint8Array(3))
    yield* repo.removePrefix(`${ns}staging/`)
    assert.deepStrictEqual(yield* blobNames(`${ROOT}/${ns}`, true), [])
    assert.deepStrictEqual(yield* repo.list(`${ns}staging/`), [])
  })

repositoryContract("Azure Blob on Azurite", async () => {
  const found = await server.acquire()
  if (found === undefined) return undefined
  info = found.info
  return {
    layer: AzureRepository.layer({
      container: info.container ?? info.bucket,
      prefix: ROOT,
      connectionString: Redacted.make(info.connectionString ?? ""),
      pageSize: 7
    }),
    cleanup: found.cleanup
  }
}, {
  skipReason: server.reason,
  extra: [["removePrefix discards the staged blocks of an interrupted upload", discardsStagedBlocks]]
})
