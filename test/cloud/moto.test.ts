// bin/relpub end to end against moto (S3; it accepts any credentials, so the
// secrets test runs with canary credentials the server takes). The core fault
// tests only: SeaweedFS runs them all for S3.
import { publishSuite } from "./publishSuite.ts"

publishSuite("moto", { title: "S3 on moto", faults: "core" })
