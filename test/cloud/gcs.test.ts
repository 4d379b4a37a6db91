// bin/relpub end to end against fake-gcs-server (GCS JSON API), with the core
// fault tests (the others pass too, but relpub's GCS retry policy backs off
// from 1 s, so they cost ~1 min more).
import { publishSuite } from "./publishSuite.ts"

publishSuite("gcs", { title: "GCS on fake-gcs-server", faults: "core" })
