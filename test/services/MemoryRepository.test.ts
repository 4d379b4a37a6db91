import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as Hasher from "../../src/services/Hasher.ts"
import { makeMemoryRepository, type MemoryStore } from "../../src/services/MemoryRepository.ts"

const bytes = (s: string) => new TextEncoder().encode(s)

/** Two repositories over one store: what two publishers built from `layer(store)` get. */
const twoOverOneStore = Effect.map(Hasher.Hasher, (hasher) => {
  const store: MemoryStore = new Map()
  return [makeMemoryRepository(hasher, store), makeMemoryRepository(hasher, store)] as const
}).pipe(Effect.provide(Hasher.layer))

describe("MemoryRepository", () => {
  describe("#swap", () => {
    it.effect("when one repository's token is stale: fails with PreconditionFailed", () =>
      Effect.gen(function*() {
        const [a] = yield* twoOverOneStore
        const first = yield* a.swap("index.json", bytes("1"), undefined)
        yield* a.swap("index.json", bytes("2"), first.etag)

        const late = yield* Effect.either(a.swap("index.json", bytes("3"), first.etag))

        assert.isTrue(Either.isLeft(late))
      }))

    describe("when two repositories share a store", () => {
      // Regression: generations were once counted per instance, so two instances over one
      // store handed out the same token twice (ABA) and a stale compare-and-swap succeeded.
      it.effect("a stale token from the other repository still fails", () =>
        Effect.gen(function*() {
          const [a, b] = yield* twoOverOneStore
          const first = yield* a.swap("index.json", bytes("by a"), undefined)
          yield* b.swap("index.json", bytes("by b"), first.etag)

          const late = yield* Effect.either(a.swap("index.json", bytes("a again"), first.etag))

          assert.isTrue(Either.isLeft(late), "a swap with a superseded token must lose")
        }))
    })
  })
})
