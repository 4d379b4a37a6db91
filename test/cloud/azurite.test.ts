// bin/relpub end to end against Azurite (Azure Blob), with every fault-proxy test.
import { publishSuite } from "./publishSuite.ts"

publishSuite("azurite", { title: "Azure Blob on Azurite", faults: "all" })
