import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Fiber, Option } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { setTimeout as delay } from "node:timers/promises"
import * as Hasher from "../../src/services/Hasher.ts"
import { makeLocalRepository } from "../../src/services/LocalRepository.ts"
import type { RepositoryShape } from "../../src/services/Repository.ts"
import { scopedTempDir } from "../support/layers.ts"

const bytes = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array) => new TextDecoder().decode(b)
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")
const keysOf = (objects: ReadonlyArray<{ readonly key: string }>) => objects.map((o) => o.key)

/** A local repository in a fresh temporary directory, with that directory. */
const local = Effect.gen(function*() {
  const root = yield* scopedTempDir("relpub-local-")
  const hasher = yield* Hasher.Hasher
  return { repo: makeLocalRepository(path.join(root, "repo"), hasher), root }
}).pipe(Effect.provide(Hasher.layer))

const readText = (repo: RepositoryShape, key: string) =>
  Effect.map(repo.read(key), (o) => Option.getOrUndefined(Option.map(o, (s) => text(s.bytes))))

describe("LocalRepository", () => {
  describe("#create", () => {
    it.scoped("when the key exists: fails with AlreadyExists and keeps the first bytes", () =>
      Effect.gen(function*() {
        const { repo, root } = yield* local
        yield* repo.create("a/b.txt", bytes("first"))

        const second = yield* Effect.flip(repo.create("a/b.txt", bytes("second")))

        assert.strictEqual(second._tag, "AlreadyExists")
        assert.strictEqual(yield* readText(repo, "a/b.txt"), "first")
        // The temporary file that was to be linked into place is gone too.
        assert.deepStrictEqual(fs.readdirSync(path.join(root, "repo", "a")), ["b.txt"])
      }))

    it.scoped("when 16 writers race for one key: exactly one wins", () =>
      Effect.gen(function*() {
        const { repo } = yield* local
        const writers = Array.from({ length: 16 }, (_, i) => i)
        const write = (i: number) => Effect.either(repo.create("race.txt", bytes(`writer ${i}`)))
        const results = yield* Effect.forEach(writers, write, { concurrency: "unbounded" })

        const winners = results.flatMap((r, i) => (Either.isRight(r) ? [i] : []))
        assert.strictEqual(winners.length, 1)
        assert.strictEqual(yield* readText(repo, "race.txt"), `writer ${winners[0]}`)
        for (const r of results.filter(Either.isLeft)) {
          assert.strictEqual(r.left._tag, "AlreadyExists")
        }
      }))
  })

  describe("#swap", () => {
    it.scoped("when the token is stale: fails with PreconditionFailed, keeps the newer bytes", () =>
      Effect.gen(function*() {
        const { repo } = yield* local
        const first = yield* repo.swap("index.json", bytes("1"), undefined)
        const second = yield* repo.swap("index.json", bytes("2"), first.etag)

        const stale = yield* Effect.flip(repo.swap("index.json", bytes("3"), first.etag))
        const absent = yield* Effect.flip(repo.swap("index.json", bytes("4"), undefined))

        assert.strictEqual(stale._tag, "PreconditionFailed")
        assert.strictEqual(absent._tag, "PreconditionFailed")
        assert.notStrictEqual(second.etag, first.etag)
        assert.strictEqual(yield* readText(repo, "index.json"), "2")
      }))

    it.scoped("when removing with a stale token: fails with PreconditionFailed and keeps it", () =>
      Effect.gen(function*() {
        const { repo } = yield* local
        const first = yield* repo.swap("claim.json", bytes("1"), undefined)
        yield* repo.swap("claim.json", bytes("2"), first.etag)

        const error = yield* Effect.flip(repo.remove("claim.json", first.etag))

        assert.strictEqual(error._tag, "PreconditionFailed")
        assert.strictEqual(yield* readText(repo, "claim.json"), "2")
      }))
  })

  describe("#promote", () => {
    it.scoped("moves every staged object under the target prefix", () =>
      Effect.gen(function*() {
        const { repo } = yield* local
        for (const k of ["a.bin", "d/b.bin"]) {
          yield* repo.create(`.relpub/staging/tx/${k}`, bytes(k))
        }

        yield* repo.promote(".relpub/staging/tx/", "releases/1.0.0/", [])

        assert.deepStrictEqual(keysOf(yield* repo.list("releases/")), [
          "releases/1.0.0/a.bin",
          "releases/1.0.0/d/b.bin"
        ])
        assert.deepStrictEqual(yield* repo.list(".relpub/staging/"), [])
      }))

    it.scoped("when the target holds anything: fails with AlreadyExists, both sides intact", () =>
      Effect.gen(function*() {
        const { repo } = yield* local
        yield* repo.create(".relpub/staging/tx/a.bin", bytes("new"))
        yield* repo.create("releases/1.0.0/a.bin", bytes("old"))

        const error = yield* Effect.flip(repo.promote(".relpub/staging/tx/", "releases/1.0.0/", []))

        assert.strictEqual(error._tag, "AlreadyExists")
        assert.strictEqual(yield* readText(repo, "releases/1.0.0/a.bin"), "old")
        assert.strictEqual(yield* readText(repo, ".relpub/staging/tx/a.bin"), "new")
      }))
  })

  describe("#upload", () => {
    it.scoped("copies the file and reports the SHA-256 and size of what it sent", () =>
      Effect.gen(function*() {
        const { repo, root } = yield* local
        const source = path.join(root, "small.bin")
        fs.writeFileSync(source, "some release bytes\n")

        const sent = yield* repo.upload(source, "staged/small.bin")

        const stored = Option.getOrThrow(yield* repo.read("staged/small.bin")).bytes
        assert.deepStrictEqual([sent.sha256, sent.size], [sha256(stored), stored.length])
        assert.strictEqual(sent.sha256, sha256(fs.readFileSync(source)))
      }))

    it.scoped("when a 64 MiB file is written to during the copy: fails with StorageError", () =>
      Effect.gen(function*() {
        const { repo, root } = yield* local
        const source = path.join(root, "big.bin")
        fs.writeFileSync(source, Buffer.alloc(64 * 1024 * 1024, 0x5a))
        // Let the clock tick past the file's creation, so every later write moves its ctime.
        yield* Effect.promise(() => delay(20))
        let n = 0
        const writeOneByte = Effect.sync(() => {
          const fd = fs.openSync(source, "r+")
          fs.writeSync(fd, Buffer.from([n++ & 0xff]), 0, 1, 32 * 1024 * 1024)
          fs.closeSync(fd)
        })
        const writer = yield* Effect.fork(
          Effect.forever(Effect.zipRight(Effect.promise(() => delay(2)), writeOneByte))
        )

        const outcome = yield* Effect.either(repo.upload(source, "staged/big.bin"))
        yield* Fiber.interrupt(writer)

        assert.isTrue(n > 0, "the timer wrote during the upload")
        assert.isTrue(Either.isLeft(outcome), "the upload failed")
        if (Either.isLeft(outcome)) {
          assert.strictEqual(outcome.left._tag, "StorageError")
          assert.strictEqual(outcome.left.operation, "upload")
          assert.isFalse(outcome.left.retryable)
        }
      }))
  })

  describe("#list", () => {
    it.scoped("ignores the temporary files of unfinished writes", () =>
      Effect.gen(function*() {
        const { repo, root } = yield* local
        yield* repo.create("d/real.bin", bytes("x"))
        fs.writeFileSync(path.join(root, "repo", "d", ".relpub-tmp-0123456789abcdef"), "half")

        assert.deepStrictEqual(keysOf(yield* repo.list("d/")), ["d/real.bin"])
        assert.deepStrictEqual(keysOf(yield* repo.list("")), ["d/real.bin"])
      }))

    it.scoped("lists by key prefix, in key order, not only by directory", () =>
      Effect.gen(function*() {
        const { repo } = yield* local
        for (const k of ["p/b", "p/a2", "p/a1", "p/ab/x", "q/a1"]) yield* repo.create(k, bytes(k))

        assert.deepStrictEqual(keysOf(yield* repo.list("p/a")), ["p/a1", "p/a2", "p/ab/x"])
        assert.deepStrictEqual(keysOf(yield* repo.list("p/")), ["p/a1", "p/a2", "p/ab/x", "p/b"])
        assert.deepStrictEqual(yield* repo.list("nothing/"), [])
      }))
  })

  describe("#removePrefix", () => {
    it.scoped("with a directory prefix: removes the whole tree and nothing else", () =>
      Effect.gen(function*() {
        const { repo } = yield* local
        for (const k of ["s/tx/a", "s/tx/d/b", "s/tx2/c"]) yield* repo.create(k, bytes(k))

        yield* repo.removePrefix("s/tx/")
        yield* repo.removePrefix("s/absent/")

        assert.deepStrictEqual(keysOf(yield* repo.list("s/")), ["s/tx2/c"])
      }))

    it.scoped("with a name prefix: removes only the objects whose key starts with it", () =>
      Effect.gen(function*() {
        const { repo } = yield* local
        for (const k of ["p/a1", "p/a2", "p/b"]) yield* repo.create(k, bytes(k))

        yield* repo.removePrefix("p/a")

        assert.deepStrictEqual(keysOf(yield* repo.list("p/")), ["p/b"])
      }))
  })

  describe("when keys hold spaces and Unicode", () => {
    it.scoped("every operation works on them", () =>
      Effect.gen(function*() {
        const { repo, root } = yield* local
        const key = "dir with space/ünïcödé 文件 ✓.bin"
        const created = yield* repo.create(key, bytes("ü"))
        assert.strictEqual(yield* readText(repo, key), "ü")
        assert.strictEqual(Option.getOrThrow(yield* repo.head(key)).size, 2)
        assert.deepStrictEqual(keysOf(yield* repo.list("dir with space/")), [key])
        yield* repo.swap(key, bytes("ö"), created.etag)
        assert.strictEqual(yield* readText(repo, key), "ö")

        const source = path.join(root, "sp ace ü.bin")
        fs.writeFileSync(source, "uploaded")
        yield* repo.upload(source, "up load/ü ✓.bin")
        const back = path.join(root, "back ü.bin")
        const got = yield* repo.download("up load/ü ✓.bin", back)
        assert.strictEqual(got.sha256, sha256(fs.readFileSync(source)))
        yield* repo.promote("up load/", "rel ease/ü/", [])
        assert.deepStrictEqual(keysOf(yield* repo.list("rel ease/")), ["rel ease/ü/ü ✓.bin"])

        yield* repo.remove(key)
        assert.isTrue(Option.isNone(yield* repo.head(key)))
      }))
  })
})
