import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Schema, TestClock } from "effect"
import { createHash, verify } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { exitCodeOf, type RolledBack } from "../../src/domain/Errors.ts"
import { ExitCode } from "../../src/domain/ExitCode.ts"
import { indexMarkdownSerial } from "../../src/domain/IndexMarkdown.ts"
import { defaultPolicy } from "../../src/domain/Policy.ts"
import {
  AuditRecord,
  Claim,
  Keys,
  ReleaseRecord,
  RepositoryIndex
} from "../../src/domain/Records.ts"
import * as LocalRepository from "../../src/services/LocalRepository.ts"
import { repair } from "../../src/services/Maintenance.ts"
import type { MemoryStore } from "../../src/services/MemoryRepository.ts"
import { commit, inspect, publish } from "../../src/services/Publisher.ts"
import { Repository } from "../../src/services/Repository.ts"
import {
  ed25519Signer,
  type Fault,
  fault,
  type FaultPlan,
  memoryRepository,
  type Operation,
  plan,
  plantAttempt,
  scopedRelease,
  scopedTempDir,
  snapshotStore,
  stack
} from "../support/layers.ts"
import type { ReleaseFixture } from "../support/release.ts"
import { snapshotTree } from "../support/release.ts"

const KEY = ed25519Signer()
const V = "1.0.0"
/** The default fixture: four files and its manifest.json. */
const UPLOADS = 5

const sha256 = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex")
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
const decode = <A, I>(schema: Schema.Schema<A, I>, bytes: Uint8Array | undefined): A => {
  assert.isDefined(bytes)
  return Schema.decodeUnknownSync(Schema.parseJson(schema))(text(bytes!))
}
const bytesAt = (store: MemoryStore, key: string) => store.get(key)?.bytes
const keysUnder = (store: MemoryStore, prefix: string) =>
  [...store.keys()].filter((k) => k.startsWith(prefix)).sort()

const request = (fx: ReleaseFixture, version: string) => ({
  releaseDir: fx.dir,
  version,
  policy: defaultPolicy(),
  validationResultFile: fx.validationFile
})

interface Into {
  readonly plan?: FaultPlan | undefined
  readonly runtime?: { host?: string; pid?: number; alive?: boolean } | undefined
  readonly unsigned?: boolean
  readonly stagingMode?: "separate" | "in-place"
}

const into = (store: MemoryStore, options: Into = {}) =>
  stack({
    repository: memoryRepository(store, { plan: options.plan, stagingMode: options.stagingMode }),
    runtime: options.runtime,
    signer: options.unsigned === true ? undefined : KEY.layer
  })

const publishInto = (store: MemoryStore, fx: ReleaseFixture, version: string, options?: Into) =>
  publish(request(fx, version)).pipe(Effect.provide(into(store, options)))

/** A store that already holds one signed, published version, so "as it was" is not empty. */
const seeded = (fx: ReleaseFixture) =>
  Effect.gen(function*() {
    const store: MemoryStore = new Map()
    yield* publishInto(store, fx, "0.9.0")
    return store
  })

/** Wait until the fault is reached; fail loudly if the publish ends first. */
const awaitReached = (f: Fault, fiber: Fiber.RuntimeFiber<unknown, unknown>) =>
  Effect.raceFirst(
    Deferred.await(f.reached),
    Effect.flatMap(Fiber.await(fiber), (exit) =>
      Effect.dieMessage(`ended before the fault: ${exit}`))
  )

/** The sorted `sha256sum` listing of a directory, computed here rather than by relpub. */
const sha256sumListing = (dir: string): string => {
  const files: Array<string> = []
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel === "" ? e.name : `${rel}/${e.name}`
      if (e.isDirectory()) walk(path.join(d, e.name), r)
      else files.push(r)
    }
  }
  walk(dir, "")
  return files
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map((f) => `${sha256(fs.readFileSync(path.join(dir, f)))}  ${f}\n`)
    .join("")
}

interface Step {
  readonly name: string
  readonly op: Operation
  readonly nth?: number
  readonly key?: (key: string) => boolean
  readonly tag: "StorageError" | "RolledBack"
  readonly step?: RolledBack["step"]
  /** The claim is acquired uninterruptibly: an interruption there lands once it returns. */
  readonly acquire?: boolean
}

const under = (prefix: string) => (key: string) => key.startsWith(prefix)
const is = (wanted: string) => (key: string) => key === wanted

// Every write or check of protocol steps 2-6 (DESIGN.md, "Publication protocol").
const STEPS: ReadonlyArray<Step> = [
  {
    name: "the claim create",
    op: "create",
    key: under(Keys.claimsPrefix),
    tag: "StorageError",
    acquire: true
  },
  ...Array.from({ length: UPLOADS }, (_, i): Step => ({
    name: `upload ${i + 1} of ${UPLOADS}`,
    op: "upload",
    nth: i + 1,
    tag: "RolledBack",
    step: "stage"
  })),
  {
    name: "the list for verify-staged",
    op: "list",
    key: under(Keys.stagingRoot),
    tag: "RolledBack",
    step: "verify-staged"
  },
  { name: "promote", op: "promote", tag: "RolledBack", step: "promote" },
  {
    name: "the list for verify-promoted",
    op: "list",
    key: under("releases/"),
    // The first is the claim's look for leftovers of a rolled-back attempt.
    nth: 2,
    tag: "RolledBack",
    step: "verify-promoted"
  },
  {
    name: "the signature create",
    op: "create",
    key: is(Keys.releaseSignature(V)),
    tag: "RolledBack",
    step: "commit"
  },
  {
    name: "the release.json create",
    op: "create",
    key: is(Keys.releaseRecord(V)),
    tag: "RolledBack",
    step: "commit"
  }
]

describe("Publisher", () => {
  describe("#publish", () => {
    describe("when the repository is empty", () => {
      it.scoped("writes exactly the layout of DESIGN.md: files, record, index, audit", () =>
        Effect.gen(function*() {
          const fx = yield* scopedRelease()
          const store: MemoryStore = new Map()
          const outcome = yield* publishInto(store, fx, V, { unsigned: true })

          const released = fs.readdirSync(fx.dir, { recursive: true, withFileTypes: true })
            .filter((e) => e.isFile())
            .map((e) => path.relative(fx.dir, path.join(e.parentPath, e.name)))
            .map((p) => p.split(path.sep).join("/"))
          assert.strictEqual(released.length, UPLOADS)
          const expected = [
            ...released.map((f) => Keys.releaseFile(V, f)),
            Keys.releaseRecord(V),
            Keys.index,
            Keys.indexMarkdown,
            Keys.auditRecord(V)
          ].sort()
          assert.deepStrictEqual([...store.keys()].sort(), expected)
          for (const f of released) {
            assert.strictEqual(
              sha256(bytesAt(store, Keys.releaseFile(V, f))!),
              sha256(fs.readFileSync(path.join(fx.dir, f))),
              f
            )
          }
          assert.deepStrictEqual(keysUnder(store, ".relpub/"), [])
          assert.strictEqual(outcome.status, "published")
          assert.strictEqual(outcome.transactionId, "tx-0001")
        }))

      it.scoped("writes a release.json whose sha256 is that of the sorted sha256sum listing", () =>
        Effect.gen(function*() {
          const fx = yield* scopedRelease()
          const store: MemoryStore = new Map()
          yield* publishInto(store, fx, V, { unsigned: true })

          const recordBytes = bytesAt(store, Keys.releaseRecord(V))
          const record = decode(ReleaseRecord, recordBytes)
          assert.strictEqual(record.sha256, sha256(sha256sumListing(fx.dir)))
          assert.strictEqual(record.version, V)
          assert.strictEqual(record.files.length, UPLOADS)
          assert.strictEqual(record.size_bytes, record.files.reduce((n, f) => n + f.size, 0))
          assert.isNull(record.signing_key_id)

          const index = decode(RepositoryIndex, bytesAt(store, Keys.index))
          assert.deepStrictEqual(index.releases.map((r) => r.version), [V])
          assert.strictEqual(index.releases[0]!.release_record_sha256, sha256(recordBytes!))
          assert.deepStrictEqual(index.audit_head, {
            key: Keys.auditRecord(V),
            sha256: sha256(bytesAt(store, Keys.auditRecord(V))!),
            sequence: 1
          })
          const markdown = text(bytesAt(store, Keys.indexMarkdown)!)
          assert.strictEqual(indexMarkdownSerial(markdown), index.serial)
        }))
    })

    describe("when a protocol step fails", () => {
      for (const s of STEPS) {
        const code = s.tag === "StorageError"
          ? ExitCode.RepositoryFailed
          : ExitCode.PublishRolledBack
        it.scoped(`at ${s.name}: leaves the repository as it was; ${s.tag} (${code})`, () =>
          Effect.gen(function*() {
            const fx = yield* scopedRelease()
            const store = yield* seeded(fx)
            const before = snapshotStore(store)
            const f = yield* fault(s.op, { nth: s.nth, key: s.key })

            const error = yield* Effect.flip(publishInto(store, fx, V, { plan: plan(f) }))

            assert.isTrue(yield* Deferred.isDone(f.reached), "the fault was reached")
            assert.strictEqual(error._tag, s.tag)
            assert.strictEqual(exitCodeOf(error), code)
            if (error._tag === "RolledBack") assert.strictEqual(error.step, s.step)
            assert.deepStrictEqual(snapshotStore(store), before)
          }))
      }
    })

    describe("when interrupted at a protocol step", () => {
      for (const s of STEPS) {
        it.scoped(`at ${s.name}: leaves the repository as it was`, () =>
          Effect.gen(function*() {
            const fx = yield* scopedRelease()
            const store = yield* seeded(fx)
            const before = snapshotStore(store)
            const f = yield* fault(s.op, { nth: s.nth, key: s.key, mode: "block" })
            const p = plan(f)

            const fiber = yield* Effect.fork(publishInto(store, fx, V, { plan: p }))
            yield* awaitReached(f, fiber)
            let exit: Exit.Exit<unknown, unknown>
            if (s.acquire === true) {
              // Ctrl-C while the claim is written: the write completes, then it is undone.
              yield* Fiber.interruptFork(fiber)
              yield* Deferred.succeed(f.gate, undefined)
              exit = yield* Fiber.await(fiber)
              const claimKey = Keys.claim(V)
              const created = p.calls.findIndex((c) => c.op === "create" && c.key === claimKey)
              const removed = p.calls.findIndex((c) => c.op === "remove" && c.key === claimKey)
              assert.isTrue(created >= 0 && removed > created, "claim written, then removed")
            } else {
              exit = yield* Fiber.interrupt(fiber)
            }

            assert.isTrue(Exit.isInterrupted(exit), `interrupted, not ${exit}`)
            assert.deepStrictEqual(snapshotStore(store), before)
          }))
      }
    })

    describe("when the index update fails after the commit", () => {
      it.scoped("leaves it committed and clean, fails with StorageError (36) naming repair", () =>
        Effect.gen(function*() {
          const fx = yield* scopedRelease()
          const store = yield* seeded(fx)
          const indexBefore = snapshotStore(store)[Keys.index]
          const f = yield* fault("swap", { key: is(Keys.index) })

          const error = yield* Effect.flip(publishInto(store, fx, V, { plan: plan(f) }))

          assert.strictEqual(error._tag, "StorageError")
          assert.strictEqual(exitCodeOf(error), ExitCode.RepositoryFailed)
          assert.include(error.message, "relpub repair")
          assert.isDefined(bytesAt(store, Keys.releaseRecord(V)))
          assert.strictEqual(keysUnder(store, Keys.releasePrefix(V)).length, UPLOADS + 2)
          assert.deepStrictEqual(keysUnder(store, ".relpub/"), [])
          assert.strictEqual(snapshotStore(store)[Keys.index], indexBefore)
        }))

      it.scoped("is completed by repair: index entry added, audit record chained", () =>
        Effect.gen(function*() {
          const fx = yield* scopedRelease()
          const store = yield* seeded(fx)
          const oldHead = decode(RepositoryIndex, bytesAt(store, Keys.index)).audit_head!
          const f = yield* fault("swap", { key: is(Keys.index) })
          yield* Effect.flip(publishInto(store, fx, V, { plan: plan(f) }))

          const report = yield* repair().pipe(Effect.provide(into(store)))

          assert.deepStrictEqual(report.indexed, [V])
          const index = decode(RepositoryIndex, bytesAt(store, Keys.index))
          assert.deepStrictEqual(index.releases.map((r) => r.version), [V, "0.9.0"])
          assert.strictEqual(index.releases[0]!.release_record_sha256,
            sha256(bytesAt(store, Keys.releaseRecord(V))!))
          const head = index.audit_head!
          assert.strictEqual(head.sequence, oldHead.sequence + 1)
          const audit = decode(AuditRecord, bytesAt(store, head.key))
          assert.deepStrictEqual(audit.previous, oldHead)
          assert.strictEqual(audit.previous!.sha256, sha256(bytesAt(store, oldHead.key)!))
          assert.strictEqual(head.sha256, sha256(bytesAt(store, head.key)!))
        }))
    })

    describe("when the release.json create fails after the object was stored", () => {
      // An ambiguous commit (the write landed, its answer was lost) is resolved by reading
      // release.json back: our bytes mean the version is committed.
      it.scoped("reports the version as committed, not rolled back", () =>
        Effect.gen(function*() {
          const fx = yield* scopedRelease()
          const store = yield* seeded(fx)
          const f = yield* fault("create", {
            key: is(Keys.releaseRecord(V)),
            mode: "fail-after",
            retryable: true
          })

          const outcome = yield* publishInto(store, fx, V, { plan: plan(f) })

          assert.strictEqual(outcome.status, "published")
          assert.isDefined(bytesAt(store, Keys.releaseRecord(V)))
          assert.strictEqual(keysUnder(store, Keys.releasePrefix(V)).length, UPLOADS + 2)
          assert.deepStrictEqual(keysUnder(store, ".relpub/"), [])
          const index = JSON.parse(new TextDecoder().decode(bytesAt(store, Keys.index)!))
          assert.include(index.releases.map((r: { version: string }) => r.version), V)
        }))
    })

    describe("when the backend stages in place (S3's default)", () => {
      // Regression: with in-place staging the staging prefix is releases/<version>/, which the
      // cleanup after the commit once removed.
      it.scoped("keeps the published files and release.json after the commit", () =>
        Effect.gen(function*() {
          const fx = yield* scopedRelease()
          const store: MemoryStore = new Map()

          const outcome = yield* publishInto(store, fx, V, { stagingMode: "in-place" })

          assert.strictEqual(outcome.status, "published")
          assert.deepStrictEqual(keysUnder(store, ".relpub/"), [])
          assert.strictEqual(keysUnder(store, Keys.releasePrefix(V)).length, UPLOADS + 2)
        }))
    })

    describe("when the version is already published", () => {
      const spellings = [["1.0.0", "1.0.0"], ["1.0.0", "v1.0.0"], ["v1.0.0", "1.0.0"]] as const
      for (const [first, second] of spellings) {
        it.scoped(`as ${first}, publishing ${second} fails with VersionExists (32)`, () =>
          Effect.gen(function*() {
            const fx = yield* scopedRelease()
            const store: MemoryStore = new Map()
            yield* publishInto(store, fx, first)
            const before = snapshotStore(store)

            const error = yield* Effect.flip(publishInto(store, fx, second))

            assert.strictEqual(error._tag, "VersionExists")
            assert.strictEqual(exitCodeOf(error), ExitCode.VersionExists)
            if (error._tag === "VersionExists") assert.strictEqual(error.reason, "published")
            assert.deepStrictEqual(snapshotStore(store), before)
          }))
      }
    })

    describe("when another publisher holds a live claim", () => {
      const holders = [
        { name: "on another host", host: "other-host", alive: true },
        { name: "on this host, still running", host: "test-host", alive: true }
      ]
      for (const h of holders) {
        it.scoped(`${h.name}: fails with VersionExists (32) "claimed", writing nothing`, () =>
          Effect.gen(function*() {
            const fx = yield* scopedRelease()
            const store: MemoryStore = new Map()
            const live = { version: V, txid: "tx-live", host: h.host, pid: 7, staged: ["a"] }
            yield* plantAttempt(live).pipe(Effect.provide(into(store)))
            const before = snapshotStore(store)

            const runtime = { alive: h.alive }
            const error = yield* Effect.flip(publishInto(store, fx, V, { runtime }))

            assert.strictEqual(error._tag, "VersionExists")
            if (error._tag === "VersionExists") assert.strictEqual(error.reason, "claimed")
            assert.strictEqual(exitCodeOf(error), ExitCode.VersionExists)
            assert.deepStrictEqual(snapshotStore(store), before)
          }))
      }
    })

    describe("when the claim is stale", () => {
      const plantStale = (store: MemoryStore, pid: number) =>
        plantAttempt({
          version: V,
          txid: "tx-dead",
          pid,
          leaseMillis: 60_000,
          staged: ["app.tar.gz", "leftover.bin"],
          promoted: ["app.tar.gz", "leftover.bin"]
        }).pipe(Effect.provide(into(store)))

      const assertPublishedCleanly = (store: MemoryStore, fx: ReleaseFixture) => {
        assert.deepStrictEqual(keysUnder(store, ".relpub/"), [])
        assert.isUndefined(bytesAt(store, Keys.releaseFile(V, "leftover.bin")))
        assert.strictEqual(sha256(bytesAt(store, Keys.releaseFile(V, "app.tar.gz"))!),
          sha256(fs.readFileSync(path.join(fx.dir, "app.tar.gz"))))
      }

      it.scoped("because its lease and the grace after it expired: rolls it back and publishes", () =>
        Effect.gen(function*() {
          const fx = yield* scopedRelease()
          const store: MemoryStore = new Map()
          yield* plantStale(store, 4242)
          // A 60 s lease, then 60 s of grace.
          yield* TestClock.adjust("121 seconds")

          const outcome = yield* publishInto(store, fx, V)

          assert.strictEqual(outcome.status, "published")
          assertPublishedCleanly(store, fx)
        }))

      it.scoped("because its process on this host is dead: rolls it back and publishes", () =>
        Effect.gen(function*() {
          const fx = yield* scopedRelease()
          const store: MemoryStore = new Map()
          yield* plantStale(store, 999)

          const outcome = yield* publishInto(store, fx, V, { runtime: { alive: false } })

          assert.strictEqual(outcome.status, "published")
          assertPublishedCleanly(store, fx)
        }))

      it.scoped("but its lease ran out less than a grace ago: fails with VersionExists", () =>
        Effect.gen(function*() {
          const fx = yield* scopedRelease()
          const store: MemoryStore = new Map()
          yield* plantStale(store, 4242)
          yield* TestClock.adjust("119 seconds")

          const error = yield* Effect.flip(publishInto(store, fx, V))

          assert.strictEqual(error._tag, "VersionExists")
          assert.deepStrictEqual(keysUnder(store, Keys.releasePrefix(V)).sort(),
            [Keys.releaseFile(V, "app.tar.gz"), Keys.releaseFile(V, "leftover.bin")])
        }))

      it.scoped("but its lease runs and it is this very process: fails with VersionExists", () =>
        Effect.gen(function*() {
          const fx = yield* scopedRelease()
          const store: MemoryStore = new Map()
          yield* plantStale(store, 4242)
          yield* TestClock.adjust("59 seconds")

          const error = yield* Effect.flip(publishInto(store, fx, V, { runtime: { alive: false } }))

          assert.strictEqual(error._tag, "VersionExists")
        }))
    })

    describe("when staging outlasts the claim's lease", () => {
      const LEASE = 60_000
      const leased = (fx: ReleaseFixture) => ({ ...request(fx, V), leaseMillis: LEASE })
      const claimOf = (store: MemoryStore) =>
        Schema.decodeUnknownSync(Schema.parseJson(Claim))(text(bytesAt(store, Keys.claim(V))!))
      // A publish held in its first upload, until `f.gate` opens.
      const uploadBlocked = Effect.gen(function*() {
        const fx = yield* scopedRelease()
        const store: MemoryStore = new Map()
        const f = yield* fault("upload", { mode: "block" })
        const fiber = yield* Effect.fork(
          publish(leased(fx)).pipe(Effect.provide(into(store, { plan: plan(f) })))
        )
        yield* awaitReached(f, fiber)
        return { store, f, fiber }
      })

      it.scoped("renews the claim every third of the lease, and publishes", () =>
        Effect.gen(function*() {
          const { store, f, fiber } = yield* uploadBlocked
          // Three minutes of uploading: three leases, nine renewals.
          for (let i = 0; i < 9; i++) yield* TestClock.adjust("20 seconds")
          const renewed = claimOf(store)
          assert.strictEqual(renewed.renewed_at, new Date(180_000).toISOString())
          assert.strictEqual(renewed.lease_expires_at, new Date(180_000 + LEASE).toISOString())
          yield* Deferred.succeed(f.gate, undefined)

          const outcome = yield* Fiber.join(fiber)
          assert.strictEqual(outcome.status, "published")
          assert.deepStrictEqual(keysUnder(store, ".relpub/"), [])
        }))

      it.scoped("stops with RolledBack (37) when its claim was taken over, and leaves the new owner's work alone", () =>
        Effect.gen(function*() {
          const { store, fiber } = yield* uploadBlocked
          // What `repair --force` then another publisher would leave.
          store.delete(Keys.claim(V))
          yield* plantAttempt({ version: V, txid: "tx-theirs", promoted: ["theirs.bin"] }).pipe(
            Effect.provide(into(store))
          )
          const theirs = snapshotStore(store)
          yield* TestClock.adjust("20 seconds")

          const exit = yield* Fiber.await(fiber)
          assert.isTrue(Exit.isFailure(exit))
          const error = yield* Effect.flip(exit)
          assert.strictEqual(error._tag, "RolledBack")
          assert.include(error.message, "taken over")
          assert.strictEqual(claimOf(store).transaction_id, "tx-theirs")
          assert.isDefined(bytesAt(store, Keys.releaseFile(V, "theirs.bin")))
          assert.deepStrictEqual(Object.keys(snapshotStore(store)).sort(), Object.keys(theirs).sort())
        }))

      it.scoped("waits out the grace when the commit gets no answer within the lease, then rolls back (37)", () =>
        Effect.gen(function*() {
          const fx = yield* scopedRelease()
          const store = yield* seeded(fx)
          const before = snapshotStore(store)
          const f = yield* fault("create", { key: is(Keys.releaseRecord(V)), mode: "block" })
          const fiber = yield* Effect.fork(
            publish(leased(fx)).pipe(Effect.provide(into(store, { plan: plan(f) })))
          )
          yield* awaitReached(f, fiber)
          yield* TestClock.adjust("61 seconds")
          // The lease is over, its grace is not: nothing is rolled back yet, and
          // repair leaves the claim alone.
          assert.isDefined(bytesAt(store, Keys.claim(V)))
          const early = yield* repair().pipe(Effect.provide(into(store)))
          assert.strictEqual(early.liveClaims.length, 1)
          assert.deepStrictEqual(early.rolledBack, [])
          yield* TestClock.adjust("60 seconds")

          const error = yield* Effect.flip(Fiber.join(fiber))
          assert.strictEqual(error._tag, "RolledBack")
          assert.strictEqual(exitCodeOf(error), ExitCode.PublishRolledBack)
          assert.deepStrictEqual(snapshotStore(store), before)
        }))

      it.scoped("exits 0 when its record turns out to have landed once the grace is over", () =>
        Effect.gen(function*() {
          const fx = yield* scopedRelease()
          const store: MemoryStore = new Map()
          // The write lands, but its answer is lost.
          const f = yield* fault("create", {
            key: is(Keys.releaseRecord(V)),
            mode: "fail-after",
            retryable: true
          })
          const p = plan(f)
          // The first read-back of the record fails too, as on a flaky network.
          const g = yield* fault("read", { key: is(Keys.releaseRecord(V)) })
          const fiber = yield* Effect.fork(
            publish(leased(fx)).pipe(Effect.provide(into(store, { plan: { ...p, faults: [f, g] } })))
          )
          yield* awaitReached(g, fiber)
          yield* TestClock.adjust("121 seconds")

          const outcome = yield* Fiber.join(fiber)
          assert.strictEqual(outcome.status, "published")
          assert.deepStrictEqual(keysUnder(store, ".relpub/"), [])
        }))
    })

    describe("when files of a rolled-back attempt landed after its rollback", () => {
      it.scoped("removes them after claiming, and publishes", () =>
        Effect.gen(function*() {
          const fx = yield* scopedRelease()
          const store = yield* seeded(fx)
          const late = new TextEncoder().encode("late upload")
          yield* Effect.gen(function*() {
            const repo = yield* Repository
            yield* repo.create(Keys.releaseFile(V, "app.tar.gz"), late)
            yield* repo.create(Keys.releaseFile(V, "stray.bin"), late)
          }).pipe(Effect.provide(into(store)))

          const outcome = yield* publishInto(store, fx, V, { stagingMode: "in-place" })

          assert.strictEqual(outcome.status, "published")
          assert.isUndefined(bytesAt(store, Keys.releaseFile(V, "stray.bin")))
          assert.strictEqual(sha256(bytesAt(store, Keys.releaseFile(V, "app.tar.gz"))!),
            sha256(fs.readFileSync(path.join(fx.dir, "app.tar.gz"))))
        }))
    })

    describe("when a file changes after inspection, before staging (local repository)", () => {
      it.scoped("fails with RolledBack (37) and leaves the repository as it was", () =>
        Effect.gen(function*() {
          const fx = yield* scopedRelease()
          const root = yield* scopedTempDir()
          const local = stack({ repository: LocalRepository.layer(root), signer: KEY.layer })
          yield* publish(request(fx, "0.9.0")).pipe(Effect.provide(local))
          const before = snapshotTree(root)

          const error = yield* Effect.gen(function*() {
            const inspection = yield* inspect(request(fx, V))
            // Same size, other bytes: only the digest can tell.
            fs.writeFileSync(path.join(fx.dir, "docs/README.md"), "READ ME\n")
            return yield* Effect.flip(commit(inspection))
          }).pipe(Effect.provide(local))

          assert.strictEqual(error._tag, "RolledBack")
          if (error._tag === "RolledBack") assert.strictEqual(error.step, "stage")
          assert.strictEqual(exitCodeOf(error), ExitCode.PublishRolledBack)
          assert.deepStrictEqual(snapshotTree(root), before)
        }))
    })

    describe("the audit chain", () => {
      it.scoped("numbers records 1, 2, 3, each pointing at the exact bytes of the one before", () =>
        Effect.gen(function*() {
          const fx = yield* scopedRelease()
          const store: MemoryStore = new Map()
          const versions = ["1.0.0", "1.1.0", "1.2.0"]
          for (const v of versions) yield* publishInto(store, fx, v)

          const records = versions.map((v) =>
            decode(AuditRecord, bytesAt(store, Keys.auditRecord(v))))
          assert.deepStrictEqual(records.map((r) => r.sequence), [1, 2, 3])
          assert.isNull(records[0]!.previous)
          for (let i = 1; i < versions.length; i++) {
            const prevKey = Keys.auditRecord(versions[i - 1]!)
            assert.deepStrictEqual(records[i]!.previous, {
              key: prevKey,
              sha256: sha256(bytesAt(store, prevKey)!),
              sequence: i
            })
          }
          const index = decode(RepositoryIndex, bytesAt(store, Keys.index))
          assert.strictEqual(index.audit_head!.key, Keys.auditRecord("1.2.0"))
          assert.deepStrictEqual(index.releases.map((r) => r.version), ["1.2.0", "1.1.0", "1.0.0"])
        }))

      it.scoped("signs release.json and audit records with the key; a flipped byte fails", () =>
        Effect.gen(function*() {
          const fx = yield* scopedRelease()
          const store: MemoryStore = new Map()
          const outcome = yield* publishInto(store, fx, V)
          assert.isTrue(outcome.auditSigned)

          const pairs = [
            [Keys.releaseRecord(V), Keys.releaseSignature(V)],
            [Keys.auditRecord(V), Keys.auditSignature(V)]
          ] as const
          for (const [signed, signature] of pairs) {
            const bytes = bytesAt(store, signed)!
            const sig = bytesAt(store, signature)!
            assert.isTrue(verify(null, bytes, KEY.publicKeyPem, sig), signed)
            const flipped = Uint8Array.from(bytes)
            flipped[10] = flipped[10]! ^ 0x01
            assert.isFalse(verify(null, flipped, KEY.publicKeyPem, sig), `${signed} flipped`)
            const badSig = Uint8Array.from(sig)
            badSig[0] = badSig[0]! ^ 0x80
            assert.isFalse(verify(null, bytes, KEY.publicKeyPem, badSig), `${signature} flipped`)
          }
          const record = decode(ReleaseRecord, bytesAt(store, Keys.releaseRecord(V)))
          assert.strictEqual(record.signing_key_id, sha256(
            Buffer.from(KEY.publicKeyPem.replace(/-----[A-Z ]+-----|\s/g, ""), "base64")
          ))
        }))
    })
  })
})
