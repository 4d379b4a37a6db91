import { Layer } from "effect"
import * as fs from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Hasher from "../../src/services/Hasher.ts"
import * as LocalRepository from "../../src/services/LocalRepository.ts"
import { repositoryContract } from "./repositoryContract.ts"

repositoryContract("local directory", async () => {
  const root = fs.mkdtempSync(join(tmpdir(), "relpub-local-contract-"))
  return {
    layer: LocalRepository.layer(root).pipe(Layer.provide(Hasher.layer)),
    cleanup: async () => fs.rmSync(root, { recursive: true, force: true })
  }
})
