// Faults between relpub and the server, through scripts/faultproxy.mjs: resets
// mid-upload, slow answers, lost answers to writes that succeeded, a claim
// lost to its lease, and a SIGKILL in the middle of a multipart upload. Each
// publish must retry or fail cleanly, and the repository must satisfy the
// invariants of DESIGN.md afterwards.
import { assert, it } from "@effect/vitest"
import { Effect, Runtime } from "effect"
import { describe } from "vitest"
import { type CliResult, describeResult, scopedRelease, spawnCli } from "../support/cli.ts"
import { type FaultProxy, scopedProxy, seen } from "./faultProxy.ts"
import { GUARANTEES } from "./store.ts"
import {
  checked,
  type Cloud,
  expectedFiles,
  indexedVersions,
  keysUnder,
  publishArgs,
  publishOk,
  relpub,
  seeded,
  snapshot,
  type SuiteContext
} from "./support.ts"

const KiB = 1024
const MiB = 1024 * KiB
// A release with one file large enough to be cut in the middle of its body.
const withBigFile = {
  files: [{ path: "big.bin", content: 2 * MiB }, { path: "notes.txt", content: "notes\n" }]
}

/** Publish `release` as v1.0.0 at `root`, through `proxy`. */
const publishThrough = (
  c: Cloud,
  proxy: FaultProxy,
  root: string,
  release: Parameters<typeof publishArgs>[0],
  extra: ReadonlyArray<string> = []
) =>
  relpub(c, publishArgs(release, "v1.0.0", c.target.repository(root, proxy.url), extra), {
    timeoutMs: 90_000
  })

/** What a killed v1.0.0 publish may leave until repair: its claim and its files (staged in place). */
const ofV1 = (key: string) =>
  key.startsWith(".relpub/claims/") || key.startsWith(".relpub/staging/") || key.startsWith("releases/v1.0.0/")

/** Request lines that upload an artifact of v1.0.0 (anything under releases/v1.0.0/ but the record). */
const artifactWrites = (c: Cloud, root: string) =>
  c.target.writeOf(root, "releases/v1\\.0\\.0/(?!release\\.json)\\S*")

// A claim whose lease is this short is stale soon after it is written.
const LEASE = ["--lease-seconds", "1"]

/**
 * The fault tests; with `all` false, only the core ones (resets, lost answers
 * to the commit, rollback), the rest being skipped to save time.
 */
export const faultTests = ({ cloud, fresh, probed }: SuiteContext, all: boolean) => {
  const extra = all ? it.scopedLive : it.scopedLive.skip
  describe("when a fault proxy sits between relpub and the server", () => {
    it.scopedLive("retries uploads reset in the middle of their body, and publishes", () =>
      Effect.gen(function*() {
        const c = cloud()
        const root = yield* probed("reset-twice")
        const big = c.target.writeOf(root, "releases/v1\\.0\\.0/big\\.bin")
        const proxy = yield* scopedProxy(c.target.origin, [
          { match: big, mode: "reset", afterBytes: 64 * KiB, times: 2 }
        ])
        const r = yield* publishThrough(c, proxy, root, yield* scopedRelease(withBigFile))
        assert.strictEqual(r.code, 0, describeResult(r))
        assert.deepStrictEqual(proxy.hits(), [2])
        assert.deepStrictEqual(indexedVersions(yield* checked(c, root)), ["v1.0.0"])
      }))

    extra("publishes through slow answers", () =>
      Effect.gen(function*() {
        const c = cloud()
        const root = yield* probed("slow")
        const proxy = yield* scopedProxy(c.target.origin, [{ mode: "delay", ms: 250, times: 12 }])
        const r = yield* publishThrough(c, proxy, root, yield* scopedRelease())
        assert.strictEqual(r.code, 0, describeResult(r))
        assert.deepStrictEqual(proxy.hits(), [12])
        assert.deepStrictEqual(indexedVersions(yield* checked(c, root)), ["v1.0.0"])
      }))

    it.scopedLive("exits 0 when the answer to its release.json write is lost: it reads the record back", () =>
      Effect.gen(function*() {
        const c = cloud()
        const root = yield* probed("lost-commit")
        const commit = c.target.writeOf(root, "releases/v1\\.0\\.0/release\\.json")
        const proxy = yield* scopedProxy(c.target.origin, [{ match: commit, mode: "drop-response", times: 1 }])
        const r = yield* publishThrough(c, proxy, root, yield* scopedRelease())
        assert.strictEqual(r.code, 0, describeResult(r))
        assert.deepStrictEqual(proxy.hits(), [1])
        assert.isAtLeast(seen(proxy, commit).length, 2, "the commit was retried")
        assert.deepStrictEqual(indexedVersions(yield* checked(c, root)), ["v1.0.0"])
      }))

    // Another publisher's record can appear under a publish that holds its
    // claim only if the claim was taken from it: here by `repair --force` (which
    // the docs say not to run while publishing) and a second publish, both
    // while the first one's release.json write is on the wire.
    it.scopedLive("exits 32 when the lost answer hides the record of one that took its claim", () =>
      Effect.gen(function*() {
        const c = cloud()
        const root = yield* probed("lost-commit-taken")
        const runtime = yield* Effect.runtime<never>()
        const theirs = yield* scopedRelease({ files: [{ path: "theirs.bin", content: 3000 }] })
        let forced: CliResult | undefined
        let other: CliResult | undefined
        const proxy = yield* scopedProxy(c.target.origin, [{
          match: c.target.writeOf(root, "releases/v1\\.0\\.0/release\\.json"),
          mode: "drop-response",
          times: 1,
          before: () =>
            Runtime.runPromise(runtime)(Effect.gen(function*() {
              forced = yield* relpub(c, ["repair", "--force", "--json", ...c.target.repository(root)])
              other = yield* relpub(c, publishArgs(theirs, "v1.0.0", c.target.repository(root)))
            }))
        }])
        const r = yield* publishThrough(c, proxy, root, yield* scopedRelease())
        assert.strictEqual(forced?.code, 0, forced && describeResult(forced))
        assert.strictEqual(other?.code, 0, other && describeResult(other))
        assert.strictEqual(r.code, 32, describeResult(r))
        assert.include(r.stderr, "v1.0.0")

        const check = yield* checked(c, root)
        assert.deepStrictEqual(indexedVersions(check), ["v1.0.0"])
        const show = yield* relpub(c, ["show", "v1.0.0", "--json", ...c.target.repository(root)])
        assert.deepStrictEqual(JSON.parse(show.stdout).files, expectedFiles(theirs))
      }))

    // The release.json write is still on the wire when the claim's lease ends:
    // the publish gives up on it, but must neither roll back (the write may
    // land) nor let anyone take the claim meanwhile. It waits out the grace
    // after the lease (as long as the lease), during which `repair` leaves the
    // claim alone, then reads the record back: it landed, so exit 0.
    extra("waits out the grace when its commit write outlives the lease, and finds it landed", () =>
      Effect.gen(function*() {
        const c = cloud()
        const root = yield* probed("lease-lost")
        const runtime = yield* Effect.runtime<never>()
        let early: Promise<CliResult> | undefined
        const proxy = yield* scopedProxy(c.target.origin, [{
          match: c.target.writeOf(root, "releases/v1\\.0\\.0/release\\.json"),
          // Delivered 400 ms after relpub hangs up at the end of its 1 s lease.
          mode: "defer",
          ms: 400,
          times: 1,
          before: () => {
            early = Runtime.runPromise(runtime)(Effect.zipRight(
              Effect.sleep("1200 millis"),
              relpub(c, ["repair", "--json", ...c.target.repository(root)])
            ))
            return Promise.resolve()
          }
        }])
        const r = yield* publishThrough(c, proxy, root, yield* scopedRelease(), LEASE)
        assert.strictEqual(r.code, 0, describeResult(r))
        assert.include(r.stderr, "waiting until")
        assert.deepStrictEqual(proxy.hits(), [1])
        const repair = yield* Effect.promise(() => early!)
        const report = JSON.parse(repair.stdout)
        assert.deepStrictEqual(report.rolledBack, [], describeResult(repair))
        assert.strictEqual(report.liveClaims.length, 1, describeResult(repair))
        assert.deepStrictEqual(indexedVersions(yield* checked(c, root)), ["v1.0.0"])
      }))

    // Regression: a probe whose requests were refused was cached as a verdict,
    // and every later publish was refused with 36.
    extra("does not remember a backend probe whose requests were refused", () =>
      Effect.gen(function*() {
        const c = cloud()
        const root = fresh("probe-error")
        const release = yield* scopedRelease()
        // A 403, as while a new IAM grant propagates: not retried, so the probe fails at once.
        const proxy = yield* scopedProxy(c.target.origin, [{
          match: c.target.writeOf(root, "\\.relpub/doctor/\\S*"),
          mode: "respond",
          status: 403,
          body: c.target.forbiddenBody
        }])
        const first = yield* publishThrough(c, proxy, root, release)
        assert.strictEqual(first.code, 36, describeResult(first))
        const again = yield* relpub(c, publishArgs(release, "v1.0.0", c.target.repository(root)))
        assert.strictEqual(again.code, 0, describeResult(again))
      }), 90_000)

    // On GCS this takes ~31 s: relpub's GCS retry policy backs off 1+2+4+8+16 s before giving up.
    extra("exits 36 or 37 when every upload is reset, leaving the repository as it was", () =>
      Effect.gen(function*() {
        const c = cloud()
        const root = yield* probed("reset-always")
        const before = yield* seeded(c, root, yield* scopedRelease())
        const proxy = yield* scopedProxy(c.target.origin, [
          { match: c.target.writeOf(root, "releases/v1\\.0\\.0/\\S*"), mode: "reset", afterBytes: 1 }
        ])
        const r = yield* publishThrough(c, proxy, root, yield* scopedRelease())
        assert.include([36, 37], r.code, describeResult(r))
        assert.isAbove(proxy.hits()[0]!, 1)
        assert.deepStrictEqual(yield* snapshot(c, root), before)
        assert.deepStrictEqual(indexedVersions(yield* checked(c, root)), ["v0.9.0"])
      }), 90_000)

    // Every upload is refused, so that none is still in flight during the rollback (see below).
    it.scopedLive("exits 37 after refused uploads, rolled back: the repository is as it was, no claim left", () =>
      Effect.gen(function*() {
        const c = cloud()
        const root = yield* probed("refused-upload")
        const before = yield* seeded(c, root, yield* scopedRelease())
        const proxy = yield* scopedProxy(c.target.origin, [
          { match: artifactWrites(c, root), mode: "respond", status: 403, body: c.target.forbiddenBody }
        ])
        const r = yield* publishThrough(c, proxy, root, yield* scopedRelease())
        assert.strictEqual(r.code, 37, describeResult(r))
        assert.isAtLeast(proxy.hits()[0]!, 1)
        assert.deepStrictEqual(yield* snapshot(c, root), before)
        assert.deepStrictEqual(indexedVersions(yield* checked(c, root)), ["v0.9.0"])
      }))

    // When one upload fails, the other one in flight is aborted on the client
    // side and the rollback deletes releases/<version>/ at once; a request
    // already on the wire can land afterwards (on Azure, as an uncommitted
    // blob). repair removes such files (no record, no claim), and so does the
    // next publish of the version once it holds the claim.
    extra("leaves nothing of the version when an aborted upload lands after the rollback", () =>
      Effect.gen(function*() {
        const c = cloud()
        const root = yield* probed("late-upload")
        const release = yield* scopedRelease()
        const proxy = yield* scopedProxy(c.target.origin, [
          // The first upload reaches the server 300 ms after relpub gave up on it; the others are refused.
          { match: artifactWrites(c, root), mode: "defer", ms: 300, timeoutMs: 3000, times: 1 },
          { match: artifactWrites(c, root), mode: "respond", status: 403, body: c.target.forbiddenBody }
        ])
        const r = yield* publishThrough(c, proxy, root, release)
        assert.strictEqual(r.code, 37, describeResult(r))
        yield* Effect.sleep("1500 millis")
        const repair = yield* relpub(c, ["repair", "--json", ...c.target.repository(root)])
        assert.strictEqual(repair.code, 0, describeResult(repair))
        yield* checked(c, root)
        yield* publishOk(c, release, "v1.0.0", c.target.repository(root))
      }))

    extra("exits 0 or 37 when the answer to an upload is lost, and the invariants hold", () =>
      Effect.gen(function*() {
        const c = cloud()
        const root = yield* probed("lost-upload")
        const proxy = yield* scopedProxy(c.target.origin, [
          { match: c.target.commitOf(root, "releases/v1\\.0\\.0/big\\.bin"), mode: "drop-response", times: 1 }
        ])
        const r = yield* publishThrough(c, proxy, root, yield* scopedRelease(withBigFile))
        assert.include([0, 37], r.code, describeResult(r))
        assert.deepStrictEqual(proxy.hits(), [1])
        const check = yield* checked(c, root)
        if (r.code === 0) assert.deepStrictEqual(indexedVersions(check), ["v1.0.0"])
        else assert.deepStrictEqual(check.keys.filter((k) => k !== GUARANTEES), [])
      }))
  })
}

const waitFor = (
  what: string,
  ready: () => boolean,
  p: { readonly child: { readonly exitCode: number | null }; readonly result: Effect.Effect<CliResult> }
) =>
  Effect.gen(function*() {
    const start = Date.now()
    while (!ready()) {
      if (p.child.exitCode !== null) {
        const r = yield* p.result
        return yield* Effect.dieMessage(`the publish ended before ${what}: ${describeResult(r)}`)
      }
      if (Date.now() - start > 60_000) return yield* Effect.dieMessage(`timed out waiting for ${what}`)
      yield* Effect.sleep("5 millis")
    }
  })

export const killTests = ({ cloud, probed }: SuiteContext) => {
  describe("when a multipart publish is killed with SIGKILL", () => {
    it.scopedLive("nothing is visible; repair rolls back and aborts the uploads; a retry publishes", () =>
      Effect.gen(function*() {
        const c = cloud()
        const root = yield* probed("sigkill")
        const before = yield* seeded(c, root, yield* scopedRelease())
        // 2 x ~72 MiB: above SINGLE_PUT_BYTES (64 MiB), each a multipart upload of 16 MiB parts.
        const large = yield* scopedRelease({
          files: Array.from({ length: 2 }, (_, i) => ({ path: `big-${i}.bin`, content: 72 * MiB + i * 1000 }))
        })
        // Slowed parts, so that the kill lands while uploads are open.
        const part = /[?&]partNumber=/
        const proxy = yield* scopedProxy(c.target.origin, [{ match: part, mode: "delay", ms: 250 }])
        const p = yield* spawnCli(publishArgs(large, "v1.0.0", c.target.repository(root, proxy.url)), {
          env: c.target.env,
          timeoutMs: 120_000
        })
        yield* waitFor("three parts were sent", () => seen(proxy, part).length >= 3, p)
        yield* p.kill("SIGKILL")
        const killed = yield* p.result
        assert.strictEqual(killed.signal, "SIGKILL", describeResult(killed))

        // Killed mid-upload: uploads open, its claim there, nothing of v1.0.0 visible.
        const open = yield* Effect.promise(() => c.store.pendingUploads(`${root}/`))
        assert.isNotEmpty(open, "multipart uploads in progress when killed")
        assert.include(yield* keysUnder(c, root), ".relpub/claims/1.0.0.json")
        assert.deepStrictEqual(yield* snapshot(c, root, ofV1), before)

        const repair = yield* relpub(c, ["repair", "--json", ...c.target.repository(root)])
        assert.strictEqual(repair.code, 0, describeResult(repair))
        assert.deepStrictEqual(JSON.parse(repair.stdout).rolledBack, ["v1.0.0"])
        assert.deepStrictEqual(yield* Effect.promise(() => c.store.pendingUploads(`${root}/`)), [])
        const repaired = yield* checked(c, root)
        assert.deepStrictEqual(indexedVersions(repaired), ["v0.9.0"])
        assert.deepStrictEqual(repaired.chain.map((l) => l.event), ["repair", "publish"])
        // Only the index and a repair audit record are new.
        const rewritten = (k: string) => k.startsWith("audit/repair-") || k.startsWith("index.")
        assert.deepStrictEqual(yield* snapshot(c, root, rewritten),
          Object.fromEntries(Object.entries(before).filter(([k]) => !rewritten(k))))

        yield* publishOk(c, large, "v1.0.0", c.target.repository(root))
        assert.deepStrictEqual(indexedVersions(yield* checked(c, root)), ["v1.0.0", "v0.9.0"])
      }), 180_000)
  })
}
