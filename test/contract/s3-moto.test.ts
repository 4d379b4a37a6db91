import * as S3Repository from "../../src/services/S3Repository.ts"
import { repositoryContract } from "./repositoryContract.ts"
import { s3Config, s3Extras } from "./s3Specific.ts"
import { type ServerInfo, serverFor } from "./servers.ts"

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true"
const server = serverFor("moto")
let info: ServerInfo | undefined

repositoryContract("S3 on moto", async () => {
  const found = await server.acquire()
  if (found === undefined) return undefined
  info = found.info
  return { layer: S3Repository.layer(s3Config(found.info)), cleanup: found.cleanup }
}, {
  skipReason: server.reason,
  knownGaps: {
    // Probed here: moto 5.2.5 answers 200 and overwrites. Its CopyObject reads only the
    // CopySourceIf* family (getmoto/moto#7943); no upstream issue for the destination yet.
    "promote-race":
      "moto 5.2.5 ignores If-None-Match on the CopyObject destination (no upstream issue found)"
  },
  // moto neither checks nor returns x-amz-checksum-sha256 (a wrong one is accepted).
  extra: s3Extras(() => info!, false)
})
