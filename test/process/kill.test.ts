// Invariants 1, 2 and 5 across a crash: a bin/relpub publish is SIGKILLed in
// the middle of staging a large release; the published part of the repository
// must be as it was, `relpub repair` must roll the attempt back (its process is
// dead on this host, so its claim is stale at once), and a retry must succeed.
// A kill during the index update is too hard to time from outside: not tested.
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import {
  checkRepository,
  type CliProcess,
  describeResult,
  listFiles,
  runCli,
  scopedRelease,
  scopedTempDir,
  spawnCli
} from "../support/cli.ts"
import { type ReleaseFixture, snapshotTree } from "../support/release.ts"

const MB = 1024 * 1024

const publishArgs = (release: ReleaseFixture, repo: string, version: string) =>
  ["publish", release.dir, "--version", version, "--repository", repo,
    "--validation-result", release.validationFile]

/** Whether some file under `.relpub/staging/<txid>/` has received bytes. */
const stagingHasBytes = (repo: string) => {
  const staging = path.join(repo, ".relpub/staging")
  const size = (f: string) => fs.statSync(path.join(staging, f), { throwIfNoEntry: false })?.size
  return listFiles(staging).some((f) => f.includes("/") && (size(f) ?? 0) > 0)
}

/** Poll every few milliseconds until `ready` holds, failing if the process ends first. */
const waitFor = (p: CliProcess, what: string, ready: () => boolean, timeoutMs = 60_000) =>
  Effect.gen(function*() {
    const start = Date.now()
    while (!ready()) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) {
        const r = yield* p.result
        return yield* Effect.dieMessage(`the publish ended before ${what}: ${describeResult(r)}`)
      }
      if (Date.now() - start > timeoutMs) {
        return yield* Effect.dieMessage(`timed out waiting for ${what}`)
      }
      yield* Effect.sleep("3 millis")
    }
  })

/** Everything a killed publish must not have changed: all but `.relpub/` and the killed version. */
const publishedPart = (repo: string, killed: string) =>
  Object.fromEntries(
    Object.entries(snapshotTree(repo))
      .filter(([k]) => !k.startsWith(".relpub") && !k.startsWith(`releases/${killed}/`))
  )

const killAndRepair = (options: {
  readonly files: ReadonlyArray<{ path: string; content: number }>
  readonly killWhen: "staging has bytes" | "the claim exists"
}) =>
  Effect.gen(function*() {
    const small = yield* scopedRelease()
    const repo = path.join(yield* scopedTempDir("relpub-kill-"), "repo")
    const first = yield* runCli(publishArgs(small, repo, "v0.9.0"))
    assert.strictEqual(first.code, 0, describeResult(first))
    const before = publishedPart(repo, "v1.0.0")
    const publishedBefore = snapshotTree(path.join(repo, "releases/v0.9.0"))

    const large = yield* scopedRelease({ files: options.files })
    const p = yield* spawnCli(publishArgs(large, repo, "v1.0.0"))
    const claim = path.join(repo, ".relpub/claims/1.0.0.json")
    if (options.killWhen === "the claim exists") {
      yield* waitFor(p, "the claim", () => fs.existsSync(claim))
    } else yield* waitFor(p, "staged bytes", () => stagingHasBytes(repo))
    yield* p.kill("SIGKILL")
    const killed = yield* p.result
    assert.strictEqual(killed.signal, "SIGKILL", describeResult(killed))

    // Killed mid-transaction: its claim is there, and nothing of v1.0.0 is visible.
    assert.isTrue(fs.existsSync(claim), "the claim of the killed publish")
    assert.isFalse(fs.existsSync(path.join(repo, "releases/v1.0.0/release.json")))
    assert.deepStrictEqual(publishedPart(repo, "v1.0.0"), before, "invariant 1")
    const index = JSON.parse(fs.readFileSync(path.join(repo, "index.json"), "utf8"))
    assert.deepStrictEqual(index.releases.map((e: any) => e.version), ["v0.9.0"])

    const repair = yield* runCli(["repair", "--repository", repo, "--json"])
    assert.strictEqual(repair.code, 0, describeResult(repair))
    const report = JSON.parse(repair.stdout)
    assert.deepStrictEqual(report.rolledBack, ["v1.0.0"])
    assert.deepStrictEqual(report.liveClaims, [])
    assert.deepStrictEqual(listFiles(path.join(repo, ".relpub/claims")), [])
    assert.deepStrictEqual(listFiles(path.join(repo, ".relpub/staging")), [])
    assert.isFalse(fs.existsSync(path.join(repo, "releases/v1.0.0")))
    const repaired = checkRepository(repo)
    assert.deepStrictEqual(repaired.problems, [])
    const events = repaired.chain.map((l) => [l.sequence, l.event])
    assert.deepStrictEqual(events, [[2, "repair"], [1, "publish"]])
    assert.deepStrictEqual(snapshotTree(path.join(repo, "releases/v0.9.0")), publishedBefore)

    const retry = yield* runCli(publishArgs(large, repo, "v1.0.0"), { timeoutMs: 120_000 })
    assert.strictEqual(retry.code, 0, describeResult(retry))
    const after = checkRepository(repo)
    assert.deepStrictEqual(after.problems, [])
    assert.deepStrictEqual(after.index.releases.map((e: any) => e.version), ["v1.0.0", "v0.9.0"])
    assert.deepStrictEqual(snapshotTree(path.join(repo, "releases/v0.9.0")), publishedBefore)
  })

describe("bin/relpub publish killed with SIGKILL", () => {
  // 4 x 100 MiB: large enough that staging takes a while, and with the retry's
  // published copy the test stays under 1 GB of disk.
  it.scopedLive("while staging: nothing is published, repair rolls back, retry succeeds", () =>
    killAndRepair({
      files: Array.from({ length: 4 }, (_, i) => ({ path: `big-${i}.bin`, content: 100 * MB })),
      killWhen: "staging has bytes"
    }), 180_000)

  it.scopedLive("right after claiming: repair rolls back, retry succeeds", () =>
    killAndRepair({ files: [{ path: "big.bin", content: 50 * MB }], killWhen: "the claim exists" }),
    120_000)
})
