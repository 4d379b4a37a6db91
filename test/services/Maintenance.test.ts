import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Schema, TestClock } from "effect"
import { defaultPolicy } from "../../src/domain/Policy.ts"
import { AuditRecord, encodeJson, Keys, RepositoryIndex } from "../../src/domain/Records.ts"
import { StorageError } from "../../src/domain/Errors.ts"
import { ensureSafeBackend, GUARANTEES_KEY } from "../../src/services/Guarantees.ts"
import { Hasher } from "../../src/services/Hasher.ts"
import { doctor, repair } from "../../src/services/Maintenance.ts"
import * as MemoryRepository from "../../src/services/MemoryRepository.ts"
import { publish, readIndex } from "../../src/services/Publisher.ts"
import { Repository, type RepositoryShape } from "../../src/services/Repository.ts"
import {
  backend,
  fault,
  memoryRepository,
  plan,
  plantAttempt,
  scopedRelease,
  stack
} from "../support/layers.ts"
import type { ReleaseFixture } from "../support/release.ts"

const V = "1.0.0"

const request = (fx: ReleaseFixture, version: string) => ({
  releaseDir: fx.dir,
  version,
  policy: defaultPolicy(),
  validationResultFile: fx.validationFile
})

type RepositoryLayer = Layer.Layer<Repository, never, Hasher>

const keysUnder = (prefix: string) =>
  Effect.flatMap(Repository, (repo) => repo.list(prefix)).pipe(
    Effect.map((objects) => objects.map((o) => o.key))
  )

const readJson = <A, I>(schema: Schema.Schema<A, I>, key: string) =>
  Effect.gen(function*() {
    const repo = yield* Repository
    const stored = yield* repo.read(key)
    assert.isTrue(stored._tag === "Some", `${key} exists`)
    const bytes = stored._tag === "Some" ? stored.value.bytes : new Uint8Array()
    return Schema.decodeUnknownSync(Schema.parseJson(schema))(new TextDecoder().decode(bytes))
  })

describe("Maintenance", () => {
  describe("#repair", () => {
    for (const name of ["memory", "local"] as const) {
      const stale = [
        // A 60 s lease, then a grace as long as the lease.
        { why: "its lease and grace expired", pid: 4242, alive: true, wait: "121 seconds" },
        { why: "its process is dead", pid: 999, alive: false, wait: "0 millis" }
      ] as const
      for (const s of stale) {
        describe(`when a claim is stale because ${s.why} (${name})`, () => {
          it.scoped("rolls back claim, staging, half-promoted files; the version publishes", () =>
            Effect.gen(function*() {
              const fx = yield* scopedRelease()
              const repository = yield* backend(name)
              yield* Effect.gen(function*() {
                yield* plantAttempt({
                  version: V,
                  txid: "tx-dead",
                  pid: s.pid,
                  leaseMillis: 60_000,
                  staged: ["app.tar.gz", "docs/README.md"],
                  promoted: ["app.tar.gz"]
                })
                yield* TestClock.adjust(s.wait)

                const report = yield* repair()

                assert.deepStrictEqual(report.rolledBack, [V])
                assert.deepStrictEqual(report.liveClaims, [])
                assert.deepStrictEqual(yield* keysUnder(".relpub/claims/"), [])
                assert.deepStrictEqual(yield* keysUnder(".relpub/staging/"), [])
                assert.deepStrictEqual(yield* keysUnder("releases/"), [])
                assert.strictEqual(report.auditKey, Keys.repairAuditRecord("tx-0001"))
                const audit = yield* readJson(AuditRecord, report.auditKey!)
                assert.strictEqual(audit.event, "repair")
                assert.strictEqual(audit.sequence, 1)
                const index = yield* readJson(RepositoryIndex, Keys.index)
                assert.strictEqual(index.audit_head?.key, report.auditKey)

                const outcome = yield* publish(request(fx, V))
                assert.strictEqual(outcome.status, "published")
                assert.strictEqual((yield* keysUnder(Keys.releasePrefix(V))).length, 6)
              }).pipe(Effect.provide(stack({ repository, runtime: { alive: s.alive } })))
            }))
        })
      }

      describe(`when staging areas have no claim (${name})`, () => {
        it.scoped("removes them and records the cleanup in the audit log", () =>
          Effect.gen(function*() {
            const repository = yield* backend(name)
            yield* Effect.gen(function*() {
              const repo = yield* Repository
              const bytes = new TextEncoder().encode("orphan")
              for (const k of ["a.bin", "sub/b.bin"]) {
                yield* repo.create(`.relpub/staging/tx-orphan/${k}`, bytes)
              }
              yield* repo.create(".relpub/staging/tx-other/c.bin", bytes)

              const report = yield* repair()

              assert.deepStrictEqual([...report.cleaned].sort(), [
                ".relpub/staging/tx-orphan/",
                ".relpub/staging/tx-other/"
              ])
              assert.deepStrictEqual(yield* keysUnder(".relpub/staging/"), [])
              assert.isDefined(report.auditKey)
            }).pipe(Effect.provide(stack({ repository })))
          }))
      })

      describe(`when a claim is live (${name})`, () => {
        it.scoped("leaves it and its staging alone and reports it", () =>
          Effect.gen(function*() {
            const repository = yield* backend(name)
            yield* Effect.gen(function*() {
              const claimKey = yield* plantAttempt({
                version: V,
                txid: "tx-live",
                host: "other-host",
                pid: 7,
                staged: ["app.tar.gz"]
              })

              const report = yield* repair()

              assert.deepStrictEqual(report.liveClaims, [`${V} (other-host pid 7)`])
              assert.deepStrictEqual(report.rolledBack, [])
              assert.deepStrictEqual(report.cleaned, [])
              assert.isUndefined(report.auditKey)
              assert.deepStrictEqual(yield* keysUnder(Keys.claimsPrefix), [claimKey])
              assert.deepStrictEqual(yield* keysUnder(".relpub/staging/"), [
                ".relpub/staging/tx-live/app.tar.gz"
              ])
            }).pipe(Effect.provide(stack({ repository })))
          }))
      })
    }

    describe("when a publish claims and stages while repair runs", () => {
      // Regression: repair once listed claims before staging areas, so a publisher claiming in
      // between lost its staging area as an "orphan".
      it.scoped("leaves the live publisher's staging area alone", () =>
        Effect.gen(function*() {
          const fx = yield* scopedRelease()
          const store: MemoryRepository.MemoryStore = new Map()
          const atStagingList = yield* fault("list", {
            key: (k) => k === Keys.stagingRoot,
            mode: "block"
          })
          const atPromote = yield* fault("promote", { mode: "block" })
          const repairer = stack({
            repository: memoryRepository(store, { plan: plan(atStagingList) }),
            runtime: { pid: 1111 }
          })
          const publisher = stack({
            repository: memoryRepository(store, { plan: plan(atPromote) })
          })

          const repairing = yield* Effect.fork(repair().pipe(Effect.provide(repairer)))
          yield* Deferred.await(atStagingList.reached)
          const publishing = yield* Effect.fork(
            publish(request(fx, V)).pipe(Effect.provide(publisher))
          )
          yield* Deferred.await(atPromote.reached)
          yield* Deferred.succeed(atStagingList.gate, undefined)
          const report = yield* Fiber.join(repairing)
          yield* Deferred.succeed(atPromote.gate, undefined)
          const outcome = yield* Effect.either(Fiber.join(publishing))

          assert.strictEqual(outcome._tag, "Right", String(outcome))
          assert.deepStrictEqual(report.cleaned, [])
        }))
    })

    describe("when a committed in-place attempt left its claim", () => {
      // Regression: an in-place claim's staging prefix is releases/<version>/, which repair
      // once removed even after the commit.
      it.scoped("keeps the published release and removes only the claim", () =>
        Effect.gen(function*() {
          const fx = yield* scopedRelease()
          yield* Effect.gen(function*() {
            yield* publish(request(fx, V))
            const published = yield* keysUnder(Keys.releasePrefix(V))
            // What a crash between the commit and the cleanup of an in-place publish leaves.
            yield* plantAttempt({
              version: V,
              txid: "tx-crashed",
              stagingPrefix: Keys.releasePrefix(V),
              leaseMillis: 1_000
            })
            yield* TestClock.adjust("2 seconds")

            const report = yield* repair()

            assert.deepStrictEqual(report.cleaned, [V])
            assert.deepStrictEqual(yield* keysUnder(Keys.claimsPrefix), [])
            assert.deepStrictEqual(yield* keysUnder(Keys.releasePrefix(V)), published)
          }).pipe(Effect.provide(stack()))
        }))
    })
  })

  describe("when files of a version have neither a record nor a claim", () => {
    it.scoped("removes them (an upload that landed after its rollback)", () =>
      Effect.gen(function*() {
        const fx = yield* scopedRelease()
        yield* Effect.gen(function*() {
          yield* publish(request(fx, "0.9.0"))
          const repo = yield* Repository
          yield* repo.create(Keys.releaseFile(V, "late.bin"), new TextEncoder().encode("late"))

          const report = yield* repair()

          assert.deepStrictEqual(report.cleaned, [Keys.releasePrefix(V)])
          assert.deepStrictEqual(yield* keysUnder(Keys.releasePrefix(V)), [])
          assert.isAbove((yield* keysUnder(Keys.releasePrefix("0.9.0"))).length, 1)
        }).pipe(Effect.provide(stack()))
      }))
  })

  describe("when a release record landed without its files", () => {
    it.scoped("leaves it out of the index and reports it as incomplete", () =>
      Effect.gen(function*() {
        const fx = yield* scopedRelease()
        yield* Effect.gen(function*() {
          yield* publish(request(fx, V))
          const repo = yield* Repository
          const { index, etag } = yield* readIndex(repo)
          // The index without V, and V's files gone: a record that outlived its rollback.
          yield* repo.swap(Keys.index, encodeJson({ ...index, releases: [], total_releases: 0 }), etag)
          yield* repo.remove(Keys.releaseFile(V, "app.tar.gz"))

          const report = yield* repair()

          assert.deepStrictEqual(report.indexed, [])
          assert.deepStrictEqual(report.incomplete, [V])
          assert.deepStrictEqual((yield* readIndex(repo)).index.releases, [])
        }).pipe(Effect.provide(stack()))
      }))
  })

  describe("#doctor", () => {
    // The memory store's semantics under an object store's kind, so that
    // publish consults the cached probe finding as it does for S3.
    const probedStore = (): RepositoryLayer =>
      Layer.effect(Repository, Effect.map(Hasher, (h) => ({
        ...MemoryRepository.makeMemoryRepository(h),
        kind: "s3" as const
      })))
    const verdict = (ok: boolean) =>
      encodeJson({
        schema: "relpub/guarantees/v1",
        checked_at: "2026-12-01T00:00:00.000Z",
        kind: "s3",
        probes: [{ name: "create-only, 16 racing writers", ok, detail: ok ? "exactly one winner" : "2 writers won" }]
      })

    it.scoped("replaces a cached failed verdict with what it finds, so publish probes no longer refuse", () =>
      Effect.gen(function*() {
        const repo = yield* Repository
        yield* repo.create(GUARANTEES_KEY, verdict(false))
        const refused = yield* Effect.flip(ensureSafeBackend(false))
        assert.include(refused.message, "2 writers won")

        const { probes } = yield* doctor
        const cached = probes.find((p) => p.name === "guarantees cached")
        assert.isTrue(cached?.ok, JSON.stringify(probes))
        yield* ensureSafeBackend(false)
        const stored = yield* readJson(Schema.Struct({ probes: Schema.Array(Schema.Struct({ ok: Schema.Boolean })) }),
          GUARANTEES_KEY)
        assert.deepStrictEqual(stored.probes.map((p) => p.ok), [true, true, true])
      }).pipe(Effect.provide(stack({ repository: probedStore() }))))

    it.scoped("keeps the cached finding when a probe's requests fail", () =>
      Effect.gen(function*() {
        const repo = yield* Repository
        yield* repo.create(GUARANTEES_KEY, verdict(true))
        const before = yield* repo.read(GUARANTEES_KEY)
        const failing: RepositoryShape = {
          ...repo,
          create: (key, bytes) =>
            key.includes("race")
              ? Effect.fail(new StorageError({ operation: "create", key, detail: "503", retryable: true }))
              : repo.create(key, bytes)
        }
        const { probes } = yield* Effect.provideService(doctor, Repository, failing)
        assert.isFalse(probes.find((p) => p.name === "create-only, 16 racing writers")?.ok)
        assert.isUndefined(probes.find((p) => p.name === "guarantees cached"))
        assert.deepStrictEqual(yield* repo.read(GUARANTEES_KEY), before)
      }).pipe(Effect.provide(stack({ repository: probedStore() }))))

    for (const name of ["memory", "local"] as const) {
      it.scoped(`reports every probe ok on a ${name} repository and leaves nothing behind`, () =>
        Effect.gen(function*() {
          const repository = yield* backend(name)
          yield* Effect.gen(function*() {
            const { probes } = yield* doctor

            assert.deepStrictEqual(probes.map((p) => p.name), [
              "reachable",
              "list after write",
              "create-only, sequential",
              "create-only, 16 racing writers",
              "compare-and-swap",
              "index readable",
              "no stale claims"
            ])
            for (const p of probes) assert.isTrue(p.ok, `${p.name}: ${p.detail}`)
            assert.deepStrictEqual(yield* keysUnder(".relpub/doctor/"), [])
          }).pipe(Effect.provide(stack({ repository })))
        }))
    }
  })
})
