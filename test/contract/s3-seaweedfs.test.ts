import * as S3Repository from "../../src/services/S3Repository.ts"
import { repositoryContract } from "./repositoryContract.ts"
import { s3Config, s3Extras } from "./s3Specific.ts"
import { type ServerInfo, serverFor } from "./servers.ts"

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true"
const server = serverFor("seaweedfs")
let info: ServerInfo | undefined

repositoryContract("S3 on SeaweedFS", async () => {
  const found = await server.acquire()
  if (found === undefined) return undefined
  info = found.info
  return { layer: S3Repository.layer(s3Config(found.info)), cleanup: found.cleanup }
}, {
  skipReason: server.reason,
  extra: s3Extras(() => info!, true)
})
