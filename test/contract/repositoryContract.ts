// The one behaviour every Repository backend must show, as vitest tests:
// call `repositoryContract(name, acquire)` from a test file per backend.
import { assert, it } from "@effect/vitest"
import { Effect, Either, Fiber, type Layer, Option, Schedule } from "effect"
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, beforeEach, describe, it as vit } from "vitest"
import { Repository, type RepositoryShape } from "../../src/services/Repository.ts"

/** A backend under test and how to release it. */
export interface Acquired {
  readonly layer: Layer.Layer<Repository, unknown>
  readonly cleanup: () => Promise<void>
}

/** Test ids, for {@link ContractOptions.knownGaps}. */
export type ContractCase =
  | "read-head" | "list" | "create" | "create-race" | "swap" | "swap-race" | "promote"
  | "promote-race" | "remove" | "remove-token" | "remove-prefix" | "upload" | "upload-large"
  | "upload-changing"
  | "unicode"

export interface ContractOptions {
  /** Why acquire found no server, shown on every skipped test. */
  readonly skipReason?: () => string | undefined
  /** What the server does not enforce: that test is skipped with this note (cite the issue). */
  readonly knownGaps?: Partial<Record<ContractCase, string>>
  /** Racing writers in the create and swap races (default 16). */
  readonly racers?: number
  /** Backend-specific tests, run inside the same suite (same server, same skip rule). */
  readonly extra?: ReadonlyArray<readonly [title: string, body: ContractTest, timeout?: number]>
}

const MiB4 = 4 * 1024 * 1024
const LARGE_BYTES = 64 * 1024 * 1024 + 3 * 1024 * 1024 + 123
const text = (s: string) => new TextEncoder().encode(s)
const untext = (b: Uint8Array) => new TextDecoder().decode(b)
const hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")
const fileSha = (path: string) => createHash("sha256").update(fs.readFileSync(path)).digest("hex")
const writeRandom = (path: string, bytes: number) => {
  const fd = fs.openSync(path, "w")
  for (let left = bytes; left > 0; left -= MiB4) fs.writeSync(fd, randomBytes(Math.min(left, MiB4)))
  fs.closeSync(fd)
}

/** What a test gets besides the repository. */
export interface Env {
  /** Fresh key prefix for one test. */
  readonly ns: string
  readonly tmp: string
  readonly largeFile: () => string
  readonly racers: number
}

export type ContractTest = (repo: RepositoryShape, env: Env) => Effect.Effect<void, unknown>
type Case = ContractTest

const some = <A>(o: Option.Option<A>): A =>
  Option.getOrThrowWith(o, () => new Error("expected an object"))

const readHead: Case = (repo, { ns }) =>
  Effect.gen(function*() {
    const created = yield* repo.create(`${ns}a.txt`, text("hello"))
    const read = some(yield* repo.read(`${ns}a.txt`))
    const head = some(yield* repo.head(`${ns}a.txt`))
    assert.strictEqual(untext(read.bytes), "hello")
    assert.strictEqual(head.size, 5)
    assert.strictEqual(head.etag, created.etag)
    assert.strictEqual(read.etag, created.etag)
    if (head.sha256 !== undefined) assert.strictEqual(head.sha256, hex(text("hello")))
    assert.isTrue(Option.isNone(yield* repo.read(`${ns}missing`)))
    assert.isTrue(Option.isNone(yield* repo.head(`${ns}missing`)))
  })

const list: Case = (repo, { ns }) =>
  Effect.gen(function*() {
    const keys = Array.from({ length: 23 }, (_, i) => `${ns}list/${String(i).padStart(2, "0")}/f`)
    yield* Effect.forEach(keys, (k, i) => repo.create(k, new Uint8Array(i)), { concurrency: 8 })
    yield* repo.create(`${ns}listed-not.bin`, text("x"))
    const listed = yield* repo.list(`${ns}list/`)
    assert.deepStrictEqual(listed.map((o) => o.key), [...keys].sort())
    assert.deepStrictEqual(listed.map((o) => o.size), keys.map((_, i) => i))
    const partial = yield* repo.list(`${ns}list/1`)
    assert.deepStrictEqual(partial.map((o) => o.key), keys.slice(10, 20))
    assert.deepStrictEqual(yield* repo.list(`${ns}nothing/`), [])
  })

const create: Case = (repo, { ns }) =>
  Effect.gen(function*() {
    yield* repo.create(`${ns}claim.json`, text("first"))
    const again = yield* Effect.either(repo.create(`${ns}claim.json`, text("second")))
    assert.isTrue(Either.isLeft(again) && again.left._tag === "AlreadyExists")
    assert.strictEqual(untext(some(yield* repo.read(`${ns}claim.json`)).bytes), "first")
  })

const createRace: Case = (repo, env) =>
  Effect.gen(function*() {
    const key = `${env.ns}race.json`
    const results = yield* Effect.forEach(
      Array.from({ length: env.racers }, (_, i) => i),
      (i) => Effect.either(repo.create(key, text(`writer ${i}`))),
      { concurrency: "unbounded" }
    )
    const winners = results.flatMap((r, i) => (Either.isRight(r) ? [i] : []))
    const losers = results.filter((r) => Either.isLeft(r) && r.left._tag === "AlreadyExists")
    assert.strictEqual(winners.length, 1, `winners: ${winners.join(", ")}`)
    assert.strictEqual(losers.length, env.racers - 1)
    assert.strictEqual(untext(some(yield* repo.read(key)).bytes), `writer ${winners[0]}`)
  })

const swap: Case = (repo, { ns }) =>
  Effect.gen(function*() {
    const key = `${ns}index.json`
    const v1 = yield* repo.swap(key, text("v1"), undefined)
    const absentOnly = yield* Effect.either(repo.swap(key, text("x"), undefined))
    assert.isTrue(Either.isLeft(absentOnly) && absentOnly.left._tag === "PreconditionFailed")
    const v2 = yield* repo.swap(key, text("v2"), v1.etag)
    assert.notStrictEqual(v2.etag, v1.etag)
    const stale = yield* Effect.either(repo.swap(key, text("v3"), v1.etag))
    assert.isTrue(Either.isLeft(stale) && stale.left._tag === "PreconditionFailed")
    const read = some(yield* repo.read(key))
    assert.strictEqual(untext(read.bytes), "v2")
    assert.strictEqual(read.etag, v2.etag)
  })

const swapRace: Case = (repo, env) =>
  Effect.gen(function*() {
    const key = `${env.ns}counter`
    yield* repo.create(key, text("0 start"))
    // Each writer's body is its own (count and writer id), as relpub's records are: a
    // retried write after an ambiguous failure may take identical bytes for its own.
    const increment = (writer: number) => Effect.gen(function*() {
      const current = some(yield* repo.read(key))
      const n = Number(untext(current.bytes).split(" ")[0]) + 1
      yield* repo.swap(key, text(`${n} writer-${writer}`), current.etag)
    }).pipe(Effect.retry({
      while: (e) => e._tag === "PreconditionFailed",
      schedule: Schedule.jittered(Schedule.spaced("10 millis")),
      times: 400
    }))
    const racers = Array.from({ length: env.racers }, (_, i) => increment(i))
    yield* Effect.all(racers, { concurrency: "unbounded" })
    assert.strictEqual(untext(some(yield* repo.read(key)).bytes).split(" ")[0], String(env.racers))
  })

const promote: Case = (repo, { ns }) =>
  Effect.gen(function*() {
    const staged = [`${ns}staging/tx1/a.bin`, `${ns}staging/tx1/dir/b.bin`]
    yield* Effect.forEach(staged, (k) => repo.create(k, text(k)))
    yield* repo.promote(`${ns}staging/tx1/`, `${ns}releases/v1/`, staged)
    for (const name of ["a.bin", "dir/b.bin"]) {
      const bytes = some(yield* repo.read(`${ns}releases/v1/${name}`)).bytes
      assert.strictEqual(untext(bytes), `${ns}staging/tx1/${name}`)
    }
    yield* repo.create(`${ns}staging/tx2/a.bin`, text("other"))
    const taken = yield* Effect.either(
      repo.promote(`${ns}staging/tx2/`, `${ns}releases/v1/`, [`${ns}staging/tx2/a.bin`])
    )
    assert.isTrue(Either.isLeft(taken) && taken.left._tag === "AlreadyExists")
    assert.strictEqual(untext(some(yield* repo.read(`${ns}releases/v1/a.bin`)).bytes), staged[0])
    // In place: staging is the release directory, so promotion changes nothing.
    yield* repo.create(`${ns}releases/v2/c.bin`, text("c"))
    yield* repo.promote(`${ns}releases/v2/`, `${ns}releases/v2/`, [`${ns}releases/v2/c.bin`])
    const inPlace = yield* repo.list(`${ns}releases/v2/`)
    assert.deepStrictEqual(inPlace.map((o) => o.key), [`${ns}releases/v2/c.bin`])
  })

const promoteRace: Case = (repo, { ns }) =>
  Effect.gen(function*() {
    const names = ["a.bin", "b.bin", "c/d.bin"]
    const sources = Array.from({ length: 6 }, (_, i) => `${ns}staging/tx${i}/`)
    const stage = (src: string, i: number) =>
      Effect.forEach(names, (n) => repo.create(src + n, text(`${i}`)))
    yield* Effect.forEach(sources, stage, {
      concurrency: "unbounded"
    })
    const results = yield* Effect.forEach(
      sources,
      (src) => Effect.either(repo.promote(src, `${ns}releases/v1/`, names.map((n) => src + n))),
      { concurrency: "unbounded" }
    )
    const winners = results.flatMap((r, i) => (Either.isRight(r) ? [i] : []))
    assert.isAtMost(winners.length, 1, `winners: ${winners.join(", ")}`)
    for (const r of results) if (Either.isLeft(r)) assert.strictEqual(r.left._tag, "AlreadyExists")
    for (const i of winners) {
      for (const n of names) {
        assert.strictEqual(untext(some(yield* repo.read(`${ns}releases/v1/${n}`)).bytes), `${i}`)
      }
    }
  })

const remove: Case = (repo, { ns }) =>
  Effect.gen(function*() {
    yield* repo.create(`${ns}plain`, text("p"))
    yield* repo.remove(`${ns}plain`)
    assert.isTrue(Option.isNone(yield* repo.head(`${ns}plain`)))
    yield* repo.remove(`${ns}never-was`)
  })

const removeToken: Case = (repo, { ns }) =>
  Effect.gen(function*() {
    const first = yield* repo.swap(`${ns}lease`, text("1"), undefined)
    const second = yield* repo.swap(`${ns}lease`, text("2"), first.etag)
    const stale = yield* Effect.either(repo.remove(`${ns}lease`, first.etag))
    assert.isTrue(Either.isLeft(stale) && stale.left._tag === "PreconditionFailed")
    assert.isTrue(Option.isSome(yield* repo.head(`${ns}lease`)))
    yield* repo.remove(`${ns}lease`, second.etag)
    assert.isTrue(Option.isNone(yield* repo.head(`${ns}lease`)))
    const gone = yield* Effect.either(repo.remove(`${ns}lease`, second.etag))
    assert.isTrue(Either.isLeft(gone) && gone.left._tag === "PreconditionFailed")
  })

const removePrefix: Case = (repo, { ns }) =>
  Effect.gen(function*() {
    const keys = [`${ns}tx/a`, `${ns}tx/b/c`, `${ns}tx/b/d/e`]
    yield* Effect.forEach(keys, (k) => repo.create(k, text(k)), { concurrency: 3 })
    yield* repo.create(`${ns}txt`, text("sibling"))
    yield* repo.removePrefix(`${ns}tx/`)
    assert.deepStrictEqual(yield* repo.list(`${ns}tx/`), [])
    assert.isTrue(Option.isSome(yield* repo.head(`${ns}txt`)))
    yield* repo.removePrefix(`${ns}tx/`)
  })

const upload: Case = (repo, env) =>
  Effect.gen(function*() {
    const path = join(env.tmp, `${env.ns.replace(/\//g, "_")}small.bin`)
    writeRandom(path, 300 * 1024 + 7)
    const sent = yield* repo.upload(path, `${env.ns}small.bin`)
    assert.strictEqual(sent.size, 300 * 1024 + 7)
    assert.strictEqual(sent.sha256, fileSha(path))
    assert.strictEqual(some(yield* repo.head(`${env.ns}small.bin`)).size, sent.size)
    assert.strictEqual(hex(some(yield* repo.read(`${env.ns}small.bin`)).bytes), sent.sha256)
    const back = join(env.tmp, `${env.ns.replace(/\//g, "_")}small.back`)
    const got = yield* repo.download(`${env.ns}small.bin`, back)
    assert.deepStrictEqual([got.sha256, got.size], [sent.sha256, sent.size])
    assert.strictEqual(fileSha(back), sent.sha256)
  })

const uploadLarge: Case = (repo, env) =>
  Effect.gen(function*() {
    const path = env.largeFile()
    const sent = yield* repo.upload(path, `${env.ns}large.bin`)
    assert.strictEqual(sent.size, LARGE_BYTES)
    assert.strictEqual(sent.sha256, fileSha(path))
    assert.strictEqual(some(yield* repo.head(`${env.ns}large.bin`)).size, LARGE_BYTES)
    const back = join(env.tmp, `${env.ns.replace(/\//g, "_")}large.back`)
    const got = yield* repo.download(`${env.ns}large.bin`, back)
    assert.deepStrictEqual([got.sha256, got.size], [sent.sha256, sent.size])
    fs.rmSync(back)
  })

const uploadChanging: Case = (repo, env) =>
  Effect.gen(function*() {
    const path = join(env.tmp, `${env.ns.replace(/\//g, "_")}changing.bin`)
    fs.copyFileSync(env.largeFile(), path)
    const fiber = yield* Effect.fork(Effect.either(repo.upload(path, `${env.ns}changing.bin`)))
    yield* Effect.sleep("20 millis")
    fs.appendFileSync(path, "tampered")
    const outcome = yield* Fiber.join(fiber)
    fs.rmSync(path)
    if (Either.isLeft(outcome)) {
      assert.strictEqual(outcome.left._tag, "StorageError")
      assert.isFalse(outcome.left.retryable)
    } else {
      const stored = some(yield* repo.read(`${env.ns}changing.bin`)).bytes
      const { sha256, size } = outcome.right
      assert.deepStrictEqual([hex(stored), stored.length], [sha256, size])
    }
  })

const unicode: Case = (repo, env) =>
  Effect.gen(function*() {
    const key = `${env.ns}dir with space/ünïcödé 文件.bin`
    const created = yield* repo.create(key, text("ü"))
    assert.strictEqual(untext(some(yield* repo.read(key)).bytes), "ü")
    assert.deepStrictEqual((yield* repo.list(`${env.ns}dir with space/`)).map((o) => o.key), [key])
    const path = join(env.tmp, `${env.ns.replace(/\//g, "_")}ü.bin`)
    fs.writeFileSync(path, "uploaded")
    const up = `${env.ns}dir with space/hochgeladen ß 上传.bin`
    assert.strictEqual((yield* repo.upload(path, up)).size, 8)
    yield* repo.promote(`${env.ns}dir with space/`, `${env.ns}réléase 1/`, [key, up])
    const promoted = some(yield* repo.read(`${env.ns}réléase 1/hochgeladen ß 上传.bin`))
    assert.strictEqual(untext(promoted.bytes), "uploaded")
    // Local promotion moved the key away; the object stores copied it.
    yield* repo.remove(key, created.etag).pipe(
      Effect.catchTag("PreconditionFailed", () => repo.remove(key))
    )
    yield* repo.removePrefix(`${env.ns}`)
    assert.deepStrictEqual(yield* repo.list(env.ns), [])
  })

const cases: ReadonlyArray<readonly [ContractCase, string, Case, number?]> = [
  ["read-head", "reads back what was written; head and read agree; absent keys are None", readHead],
  ["list", "lists every key under a prefix in key order, across pages", list],
  ["create", "create-only: a second create fails with AlreadyExists and changes nothing", create],
  [
    "create-race",
    "racing creates of one key: exactly one wins, the rest get AlreadyExists",
    createRace
  ],
  ["swap", "compare-and-swap: the current token wins, a stale or absent-only token loses", swap],
  ["swap-race", "racing read-modify-swap increments lose no update", swapRace, 60_000],
  [
    "promote",
    "promotes staged keys, refuses a non-empty destination, in-place is a no-op",
    promote
  ],
  [
    "promote-race",
    "racing promotes into one destination: at most one wins, and only with its bytes",
    promoteRace
  ],
  ["remove", "remove deletes unconditionally; absent keys are fine", remove],
  ["remove-token", "remove with a token: a stale one fails, the current one deletes", removeToken],
  [
    "remove-prefix",
    "removePrefix deletes everything under the prefix and nothing beside it",
    removePrefix
  ],
  ["upload", "upload reports the SHA-256 and size of what it sent; download returns it", upload],
  [
    "upload-large",
    "upload of an object over 64 MiB (multipart) keeps every byte",
    uploadLarge,
    120_000
  ],
  [
    "upload-changing",
    "a file that changes while it is sent fails, or what is stored is what was reported",
    uploadChanging,
    120_000
  ],
  ["unicode", "keys with spaces and Unicode work for every operation", unicode]
]

/**
 * Registers the Repository contract for one backend. `acquire` runs once
 * before the tests; when it returns undefined every test is skipped with
 * `options.skipReason`. Each test works under its own fresh key prefix.
 */
export const repositoryContract = (
  name: string,
  acquire: () => Promise<Acquired | undefined>,
  options: ContractOptions = {}
): void => {
  describe(`Repository contract: ${name}`, () => {
    let acquired: Acquired | undefined
    let tmp = ""
    let large: string | undefined
    const run = randomBytes(4).toString("hex")

    beforeAll(async () => {
      tmp = fs.mkdtempSync(join(tmpdir(), "relpub-contract-"))
      acquired = await acquire()
    }, 180_000)
    afterAll(async () => {
      await acquired?.cleanup()
      if (tmp !== "") fs.rmSync(tmp, { recursive: true, force: true })
    }, 60_000)
    beforeEach((ctx) => {
      const reason = options.skipReason?.() ?? "not available"
      if (acquired === undefined) ctx.skip(`no ${name} server: ${reason}`)
    })

    const env = (id: string): Env => ({
      ns: `contract-${run}/${id}/`,
      tmp,
      racers: options.racers ?? 16,
      largeFile: () => {
        if (large === undefined) {
          large = join(tmp, "large.bin")
          writeRandom(large, LARGE_BYTES)
        }
        return large
      }
    })

    const register = (id: string, title: string, body: ContractTest, timeout?: number) =>
      it.live(title, () =>
        Effect.flatMap(Repository, (repo) => body(repo, env(id))).pipe(
          Effect.provide(acquired!.layer)
        ), timeout)
    for (const [id, title, body, timeout] of cases) {
      const gap = options.knownGaps?.[id]
      if (gap === undefined) register(id, title, body, timeout)
      else vit(title, (ctx) => ctx.skip(`not enforced by this server: ${gap}`))
    }
    options.extra?.forEach(([title, body, timeout], i) =>
      register(`extra-${i}`, title, body, timeout)
    )
  })
}
