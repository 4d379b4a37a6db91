import { Redacted } from "effect"
import * as AzureRepository from "../../src/services/AzureRepository.ts"
import { repositoryContract } from "./repositoryContract.ts"
import { serverFor } from "./servers.ts"

const server = serverFor("azurite")

repositoryContract("Azure Blob on Azurite", async () => {
  const found = await server.acquire()
  if (found === undefined) return undefined
  const { info } = found
  return {
    layer: AzureRepository.layer({
      container: info.container ?? info.bucket,
      prefix: "repo",
      connectionString: Redacted.make(info.connectionString ?? ""),
      pageSize: 7
    }),
    cleanup: found.cleanup
  }
}, { skipReason: server.reason })
