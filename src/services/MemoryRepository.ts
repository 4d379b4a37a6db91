import * as fs from "node:fs"
import { Effect, Layer, Option } from "effect"
import { AlreadyExists, PreconditionFailed, StorageError } from "../domain/Errors.ts"
import { Hasher, type HasherShape } from "./Hasher.ts"
import { type ObjectInfo, Repository, type RepositoryShape } from "./Repository.ts"

interface Entry {
  readonly bytes: Uint8Array
  readonly etag: string
}

/** The objects of a memory repository, for tests to inspect and compare. */
export type MemoryStore = Map<string, Entry>

const generations = new WeakMap<MemoryStore, number>()

/**
 * A repository held in memory with the semantics of an object store: atomic
 * create-only and compare-and-swap writes, generation numbers as tokens, and
 * promotion by copy. For tests and for programs that embed relpub.
 */
export const makeMemoryRepository = (
  hasher: HasherShape,
  store: MemoryStore = new Map()
): RepositoryShape => {
  const put = (key: string, bytes: Uint8Array): ObjectInfo => {
    // The generation lives with the store, so repositories sharing a store never reuse a token.
    const generation = (generations.get(store) ?? 0) + 1
    generations.set(store, generation)
    const etag = `g${generation}`
    store.set(key, { bytes, etag })
    return { key, size: bytes.length, etag, sha256: hasher.hashBytes(bytes) }
  }
  const info = (key: string, e: Entry): ObjectInfo => ({ key, size: e.bytes.length, etag: e.etag })
  const keysUnder = (prefix: string) => [...store.keys()].filter((k) => k.startsWith(prefix)).sort()

  return {
    kind: "memory",
    location: "memory://",
    stagingMode: "separate",
    read: (key) =>
      Effect.sync(() =>
        Option.map(Option.fromNullable(store.get(key)), (e) => ({ bytes: e.bytes, etag: e.etag }))
      ),
    head: (key) =>
      Effect.sync(() => Option.map(Option.fromNullable(store.get(key)), (e) => info(key, e))),
    list: (prefix) => Effect.sync(() => keysUnder(prefix).map((k) => info(k, store.get(k)!))),
    create: (key, bytes) =>
      Effect.suspend(() =>
        store.has(key) ? Effect.fail(new AlreadyExists({ key })) : Effect.succeed(put(key, bytes))
      ),
    swap: (key, bytes, expected) =>
      Effect.suspend(() =>
        store.get(key)?.etag !== expected
          ? Effect.fail(new PreconditionFailed({ key }))
          : Effect.succeed(put(key, bytes))
      ),
    remove: (key, expected) =>
      Effect.suspend(() => {
        if (expected !== undefined && store.get(key)?.etag !== expected) {
          return Effect.fail(new PreconditionFailed({ key }))
        }
        store.delete(key)
        return Effect.void
      }),
    removePrefix: (prefix) => Effect.sync(() => keysUnder(prefix).forEach((k) => store.delete(k))),
    upload: (localPath, key) =>
      Effect.gen(function* () {
        const bytes = yield* Effect.tryPromise({
          try: () => fs.promises.readFile(localPath),
          catch: (e) =>
            new StorageError({
              operation: "upload",
              key,
              detail: (e as Error).message,
              retryable: false
            })
        })
        const written = put(key, new Uint8Array(bytes))
        return { key, size: written.size, sha256: written.sha256! }
      }),
    promote: (fromPrefix, toPrefix) =>
      Effect.suspend(() => {
        if (fromPrefix === toPrefix) return Effect.void
        if (keysUnder(toPrefix).length > 0) return Effect.fail(new AlreadyExists({ key: toPrefix }))
        for (const key of keysUnder(fromPrefix)) {
          put(toPrefix + key.slice(fromPrefix.length), store.get(key)!.bytes)
          store.delete(key)
        }
        return Effect.void
      }),
    download: (key, localPath) =>
      Effect.gen(function* () {
        const entry = store.get(key)
        if (entry === undefined) {
          return yield* new StorageError({
            operation: "read",
            key,
            detail: "no such object",
            retryable: false
          })
        }
        yield* Effect.tryPromise({
          try: () => fs.promises.writeFile(localPath, entry.bytes, { flag: "wx" }),
          catch: (e) =>
            new StorageError({
              operation: "read",
              key,
              detail: (e as Error).message,
              retryable: false
            })
        })
        return { key, size: entry.bytes.length, sha256: hasher.hashBytes(entry.bytes) }
      })
  }
}

/** A fresh, empty memory repository; pass `store` to share or inspect its objects. */
export const layer = (store?: MemoryStore): Layer.Layer<Repository, never, Hasher> =>
  Layer.effect(
    Repository,
    Effect.map(Hasher, (hasher) => makeMemoryRepository(hasher, store))
  )
