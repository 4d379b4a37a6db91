import { Layer } from "effect"
import * as Hasher from "../../src/services/Hasher.ts"
import * as MemoryRepository from "../../src/services/MemoryRepository.ts"
import { repositoryContract } from "./repositoryContract.ts"

repositoryContract("memory", async () => ({
  layer: MemoryRepository.layer().pipe(Layer.provide(Hasher.layer)),
  cleanup: async () => {}
}))
