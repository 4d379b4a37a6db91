// bin/relpub end to end against SeaweedFS (S3, SigV4 checked): the full suite,
// every fault-proxy test, and a SIGKILL during multipart uploads.
import { publishSuite } from "./publishSuite.ts"

publishSuite("seaweedfs", { title: "S3 on SeaweedFS", faults: "all", kill: true, backendIndependent: true })
