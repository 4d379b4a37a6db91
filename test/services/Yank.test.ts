import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Option, Schema } from "effect"
import { createHash, verify } from "node:crypto"
import { defaultPolicy } from "../../src/domain/Policy.ts"
import { AuditRecord, encodeJson, Keys, RepositoryIndex } from "../../src/domain/Records.ts"
import * as MemoryRepository from "../../src/services/MemoryRepository.ts"
import { publish, readIndex } from "../../src/services/Publisher.ts"
import { Repository } from "../../src/services/Repository.ts"
import { yank } from "../../src/services/Yank.ts"
import {
  backend,
  ed25519Signer,
  memoryRepository,
  scopedRelease,
  snapshotStore,
  stack
} from "../support/layers.ts"

const KEY = ed25519Signer()
const REASON = "CVE-2026-0001: remote code execution in the parser"


/** Publish a fresh fixture as `version` into the repository in context. */
const publishVersion = (version: string) =>
  Effect.gen(function*() {
    const fx = yield* scopedRelease()
    yield* publish({
      releaseDir: fx.dir,
      version,
      policy: defaultPolicy(),
      validationResultFile: fx.validationFile
    })
  })

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

const bytesOf = (key: string) =>
  Effect.gen(function*() {
    const stored = yield* (yield* Repository).read(key)
    assert.isTrue(Option.isSome(stored), `${key} exists`)
    return Option.isSome(stored) ? stored.value.bytes : new Uint8Array()
  })

const readJson = <A, I>(schema: Schema.Schema<A, I>, key: string) =>
  Effect.map(bytesOf(key), (bytes) =>
    Schema.decodeUnknownSync(Schema.parseJson(schema))(new TextDecoder().decode(bytes)))

/** Every object under `prefix` as `key sha256`: equal snapshots mean nothing was added, removed or rewritten. */
const snapshot = (prefix: string) =>
  Effect.gen(function*() {
    const repo = yield* Repository
    const out: Array<string> = []
    for (const o of yield* repo.list(prefix)) out.push(`${o.key} ${sha256(yield* bytesOf(o.key))}`)
    return out.sort()
  })

const currentIndex = Effect.flatMap(Repository, (repo) => readIndex(repo)).pipe(
  Effect.map(({ index }) => index)
)

const failureOf = <A, E extends { readonly _tag: string; readonly message: string }, R>(
  effect: Effect.Effect<A, E, R>
) => Effect.map(Effect.either(effect), (r) => (Either.isRight(r) ? "succeeded" : `${r.left._tag}: ${r.left.message}`))

describe("yank", () => {
  for (const name of ["memory", "local"] as const) {
    describe(`when the version is published (${name})`, () => {
      it.scoped("marks it yanked in the index and chains a yank audit record, leaving releases/ as it was", () =>
        Effect.gen(function*() {
          const repository = yield* backend(name)
          yield* Effect.gen(function*() {
            yield* publishVersion("1.0.0")
            yield* publishVersion("1.1.0")
            const before = yield* currentIndex
            const releases = yield* snapshot("releases/")

            const outcome = yield* yank({ version: "1.0.0", reason: `  ${REASON}\n` })

            assert.strictEqual(outcome.status, "yanked")
            assert.strictEqual(outcome.version, "1.0.0")
            assert.strictEqual(outcome.yanked?.reason, REASON)
            assert.isFalse(outcome.audit_signed)
            assert.match(outcome.audit_record!, /^audit\/yank-tx-\d+\.audit\.json$/)
            assert.deepStrictEqual(yield* snapshot("releases/"), releases)

            const index = yield* readJson(RepositoryIndex, Keys.index)
            assert.strictEqual(index.serial, before.serial + 1)
            assert.strictEqual(outcome.index_serial, index.serial)
            assert.strictEqual(index.total_releases, 2)
            assert.deepStrictEqual(index.releases.map((r) => r.version), ["1.1.0", "1.0.0"])
            const [newer, yanked] = index.releases
            assert.deepStrictEqual(newer, before.releases[0])
            assert.deepStrictEqual(yanked, { ...before.releases[1]!, yanked: outcome.yanked! })
            assert.strictEqual(index.audit_head?.key, outcome.audit_record)
            assert.strictEqual(index.audit_head?.sequence, 3)
            assert.strictEqual(index.audit_head?.sha256, sha256(yield* bytesOf(outcome.audit_record!)))

            const audit = yield* readJson(AuditRecord, outcome.audit_record!)
            assert.strictEqual(audit.event, "yank")
            assert.strictEqual(audit.version, "1.0.0")
            assert.strictEqual(audit.sequence, 3)
            assert.deepStrictEqual(audit.previous, before.audit_head)
            assert.strictEqual(audit.timestamp, outcome.yanked?.at)
            assert.strictEqual(audit.details, REASON)
            assert.strictEqual(audit.release_record_sha256, before.releases[1]!.release_record_sha256)
            assert.strictEqual(audit.release_record_sha256, sha256(yield* bytesOf(Keys.releaseRecord("1.0.0"))))
            assert.isNull(audit.signing_key_id)
          }).pipe(Effect.provide(stack({ repository })))
        }))

      it.scoped("succeeds without writing anything when the version is already yanked", () =>
        Effect.gen(function*() {
          const repository = yield* backend(name)
          yield* Effect.gen(function*() {
            yield* publishVersion("1.0.0")
            const first = yield* yank({ version: "1.0.0", reason: REASON })
            const index = yield* bytesOf(Keys.index)
            const audit = yield* snapshot("audit/")

            const again = yield* yank({ version: "1.0.0", reason: "another reason" })

            assert.strictEqual(again.status, "already-yanked")
            assert.isNull(again.audit_record)
            assert.deepStrictEqual(again.yanked, first.yanked)
            assert.deepStrictEqual(yield* bytesOf(Keys.index), index)
            assert.deepStrictEqual(yield* snapshot("audit/"), audit)
          }).pipe(Effect.provide(stack({ repository })))
        }))

      it.scoped("with undo removes the mark with an unyank record; undoing again changes nothing", () =>
        Effect.gen(function*() {
          const repository = yield* backend(name)
          yield* Effect.gen(function*() {
            yield* publishVersion("1.0.0")
            const unyanked = yield* currentIndex
            yield* yank({ version: "1.0.0", reason: REASON })

            const undone = yield* yank({ version: "1.0.0", reason: "fixed in the advisory", undo: true })

            assert.strictEqual(undone.status, "unyanked")
            assert.isNull(undone.yanked)
            assert.match(undone.audit_record!, /^audit\/unyank-tx-\d+\.audit\.json$/)
            const index = yield* currentIndex
            assert.deepStrictEqual(index.releases, unyanked.releases)
            assert.isFalse("yanked" in index.releases[0]!)
            assert.strictEqual(index.audit_head?.sequence, 3)
            const audit = yield* readJson(AuditRecord, undone.audit_record!)
            assert.strictEqual(audit.event, "unyank")
            assert.strictEqual(audit.details, "fixed in the advisory")

            const again = yield* yank({ version: "1.0.0", reason: "again", undo: true })
            assert.strictEqual(again.status, "not-yanked")
            assert.isNull(again.audit_record)
            assert.strictEqual((yield* currentIndex).serial, index.serial)
          }).pipe(Effect.provide(stack({ repository })))
        }))
    })
  }

  describe("when the version is written in its other spelling", () => {
    it.scoped("yanks the published spelling", () =>
      Effect.gen(function*() {
        yield* publishVersion("v2.0.0")
        const outcome = yield* yank({ version: "2.0.0", reason: REASON })
        assert.strictEqual(outcome.version, "v2.0.0")
        assert.isDefined((yield* currentIndex).releases[0]!.yanked)
      }).pipe(Effect.provide(stack())))
  })

  describe("when another version is published after the yank", () => {
    it.scoped("keeps the mark", () =>
      Effect.gen(function*() {
        yield* publishVersion("1.0.0")
        const { yanked } = yield* yank({ version: "1.0.0", reason: REASON })
        yield* publishVersion("1.1.0")
        const index = yield* currentIndex
        assert.deepStrictEqual(index.releases.map((r) => [r.version, r.yanked]), [
          ["1.1.0", undefined],
          ["1.0.0", yanked!]
        ])
      }).pipe(Effect.provide(stack())))
  })

  describe("when a publish of another version runs at the same time", () => {
    it.scoped("loses no update: both land, in one audit chain", () =>
      Effect.gen(function*() {
        const store: MemoryRepository.MemoryStore = new Map()
        const layer = stack({ repository: memoryRepository(store) })
        yield* publishVersion("1.0.0").pipe(Effect.provide(layer))
        yield* Effect.all([
          publishVersion("1.1.0").pipe(Effect.provide(stack({ repository: memoryRepository(store) }))),
          yank({ version: "1.0.0", reason: REASON }).pipe(
            Effect.provide(stack({ repository: memoryRepository(store), runtime: { pid: 7 } }))
          )
        ], { concurrency: 2 })
        const index = yield* currentIndex.pipe(Effect.provide(layer))
        assert.deepStrictEqual(index.releases.map((r) => r.version).sort(), ["1.0.0", "1.1.0"])
        assert.isDefined(index.releases.find((r) => r.version === "1.0.0")?.yanked)
        assert.strictEqual(index.audit_head?.sequence, 3)
        assert.strictEqual(index.serial, 3)
      }))
  })

  describe("when the version is not published", () => {
    it.scoped("fails with NotPublished and writes nothing", () =>
      Effect.gen(function*() {
        const store: MemoryRepository.MemoryStore = new Map()
        yield* Effect.gen(function*() {
          yield* publishVersion("1.0.0")
          const before = snapshotStore(store)
          assert.match(yield* failureOf(yank({ version: "9.9.9", reason: REASON })), /^NotPublished: version 9\.9\.9/)
          assert.deepStrictEqual(snapshotStore(store), before)
        }).pipe(Effect.provide(stack({ repository: memoryRepository(store) })))
      }))

    it.scoped("fails with NotPublished on an empty repository", () =>
      Effect.gen(function*() {
        const store: MemoryRepository.MemoryStore = new Map()
        const failure = yield* failureOf(yank({ version: "1.0.0", reason: REASON }))
          .pipe(Effect.provide(stack({ repository: memoryRepository(store) })))
        assert.match(failure, /^NotPublished/)
        assert.strictEqual(store.size, 0)
      }))
  })

  describe("when the version is committed but not yet in the index", () => {
    it.scoped("fails with a StorageError that says to run relpub repair", () =>
      Effect.gen(function*() {
        yield* publishVersion("1.0.0")
        const repo = yield* Repository
        const record = yield* bytesOf(Keys.releaseRecord("1.0.0"))
        yield* repo.create(Keys.releaseRecord("2.0.0"), record)
        const failure = yield* failureOf(yank({ version: "v2.0.0", reason: REASON }))
        assert.match(failure, /^StorageError: .*2\.0\.0 is committed but not in index\.json.*relpub repair/)
      }).pipe(Effect.provide(stack())))
  })

  describe("when the index is signed", () => {
    it.scoped("signs the yank record and the index with the signing key", () =>
      Effect.gen(function*() {
        yield* publishVersion("1.0.0")
        const outcome = yield* yank({ version: "1.0.0", reason: REASON })
        assert.isTrue(outcome.audit_signed)
        const bytes = yield* bytesOf(outcome.audit_record!)
        const signature = yield* bytesOf(outcome.audit_record!.replace(/\.json$/, ".sig"))
        assert.isTrue(verify(null, bytes, KEY.publicKeyPem, signature))
        const audit = yield* readJson(AuditRecord, outcome.audit_record!)
        assert.strictEqual(audit.signing_key_id, (yield* readJson(RepositoryIndex, Keys.index)).signatures[0]?.keyid)
      }).pipe(Effect.provide(stack({ signer: KEY.layer }))))

    it.scoped("refuses with a UsageError, writing nothing, when no signing key is given", () =>
      Effect.gen(function*() {
        const store: MemoryRepository.MemoryStore = new Map()
        yield* publishVersion("1.0.0").pipe(Effect.provide(stack({ repository: memoryRepository(store), signer: KEY.layer })))
        const before = snapshotStore(store)
        const failure = yield* failureOf(yank({ version: "1.0.0", reason: REASON }))
          .pipe(Effect.provide(stack({ repository: memoryRepository(store) })))
        assert.match(failure, /^UsageError: index\.json is signed: pass --signing-key/)
        assert.deepStrictEqual(snapshotStore(store), before)
      }))
  })

  describe("when the request is malformed", () => {
    it.scoped("fails with a UsageError for an empty reason or a version that is not semantic", () =>
      Effect.gen(function*() {
        yield* publishVersion("1.0.0")
        const index = yield* bytesOf(Keys.index)
        assert.match(yield* failureOf(yank({ version: "1.0.0", reason: "  " })), /^UsageError: --reason/)
        assert.match(yield* failureOf(yank({ version: "1.0.0", reason: "x".repeat(1025) })), /^UsageError: --reason/)
        assert.match(yield* failureOf(yank({ version: "latest", reason: REASON })), /^UsageError: "latest"/)
        assert.deepStrictEqual(yield* bytesOf(Keys.index), index)
      }).pipe(Effect.provide(stack())))
  })

  describe("when an index predates yanks", () => {
    it.scoped("decodes it and yanks as usual", () =>
      Effect.gen(function*() {
        yield* publishVersion("1.0.0")
        const repo = yield* Repository
        const stored = yield* bytesOf(Keys.index)
        const legacy = JSON.parse(new TextDecoder().decode(stored))
        delete legacy.serial
        delete legacy.audit_head
        delete legacy.expires
        delete legacy.signatures
        const current = yield* repo.head(Keys.index)
        yield* repo.swap(Keys.index, encodeJson(legacy), Option.getOrUndefined(current)?.etag)
        const outcome = yield* yank({ version: "1.0.0", reason: REASON })
        assert.strictEqual(outcome.status, "yanked")
        const index = yield* currentIndex
        assert.strictEqual(index.serial, 1)
        assert.strictEqual(index.audit_head?.sequence, 1)
      }).pipe(Effect.provide(stack())))
  })
})
