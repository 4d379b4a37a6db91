// Invariant 3 across processes: N bin/relpub publishes racing for one version
// give one success and N-1 exit 32; N publishes of different versions all
// succeed and none is lost from the index or the audit chain.
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import {
  checkRepository,
  describeResult,
  runCli,
  scopedRelease,
  scopedTempDir
} from "../support/cli.ts"
import type { ReleaseFixture } from "../support/release.ts"

const N = 8

/** Start one bin/relpub publish per version, all at once, and wait for every one. */
const publishAll = (release: ReleaseFixture, repo: string, versions: ReadonlyArray<string>) =>
  Effect.forEach(versions, (version) =>
    runCli(["publish", release.dir, "--version", version, "--repository", repo,
      "--validation-result", release.validationFile], { timeoutMs: 90_000 }), {
    concurrency: "unbounded"
  })

const races = [
  ["spelled alike", Array.from({ length: N }, () => "v1.0.0")],
  ["spelled v1.0.0 and 1.0.0", Array.from({ length: N }, (_, i) => (i % 2 ? "1.0.0" : "v1.0.0"))]
] as const

describe("concurrent bin/relpub publish", () => {
  describe("when 8 processes publish the same version", () => {
    for (const [what, versions] of races) {
      it.scopedLive(`exactly one exits 0 and seven exit 32 (${what})`, () =>
        Effect.gen(function*() {
          const release = yield* scopedRelease()
          const repo = path.join(yield* scopedTempDir(), "repo")
          const results = yield* publishAll(release, repo, versions)
          const codes = results.map((r) => r.code)
          const detail = results.map(describeResult).join("\n")
          assert.strictEqual(codes.filter((c) => c === 0).length, 1, detail)
          assert.strictEqual(codes.filter((c) => c === 32).length, N - 1, detail)
          for (const r of results.filter((x) => x.code === 32)) assert.include(r.stderr, "1.0.0")

          const winner = versions[codes.indexOf(0)]!
          const check = checkRepository(repo)
          assert.deepStrictEqual(check.problems, [])
          assert.deepStrictEqual(check.index.releases.map((e: any) => e.version), [winner])
          assert.strictEqual(check.index.total_releases, 1)
          assert.deepStrictEqual(fs.readdirSync(path.join(repo, "releases")), [winner])
          assert.deepStrictEqual(check.chain.map((l) => [l.sequence, l.version]), [[1, winner]])
        }))
    }
  })

  describe("when 8 processes publish 8 different versions", () => {
    it.scopedLive("all exit 0 and the index and audit chain hold all 8, none lost", () =>
      Effect.gen(function*() {
        const release = yield* scopedRelease()
        const repo = path.join(yield* scopedTempDir(), "repo")
        const versions = Array.from({ length: N }, (_, i) => `v2.${i}.0`)
        const results = yield* publishAll(release, repo, versions)
        assert.deepStrictEqual(
          results.map((r) => r.code),
          versions.map(() => 0),
          results.map(describeResult).join("\n")
        )

        const check = checkRepository(repo)
        assert.deepStrictEqual(check.problems, [])
        assert.strictEqual(check.index.total_releases, N)
        assert.strictEqual(check.index.serial, N)
        assert.deepStrictEqual(
          [...check.index.releases.map((e: any) => e.version)].sort(),
          [...versions].sort()
        )

        // Newest first: the chain from the head walks sequences 8..1, one record per version,
        // each linked to the previous record's exact bytes (checked by checkRepository).
        assert.deepStrictEqual(check.chain.map((l) => l.sequence), [8, 7, 6, 5, 4, 3, 2, 1])
        assert.deepStrictEqual([...check.chain.map((l) => l.version)].sort(), [...versions].sort())
        assert.deepStrictEqual(
          fs.readdirSync(path.join(repo, "audit")).sort(),
          versions.map((v) => `${v}.audit.json`).sort()
        )
        // The index lists the versions in the order their audit records were chained.
        assert.deepStrictEqual(
          check.index.releases.map((e: any) => e.version),
          check.chain.map((l) => l.version)
        )
      }))
  })
})
