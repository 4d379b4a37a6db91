// Invariant 4 across processes: a release file changed after relpub verified
// it (here: once the claim exists, so inspection and hashing are over, but
// before that file is staged) fails the publish with 37 and publishes nothing.
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import {
  checkRepository,
  describeResult,
  listFiles,
  runCli,
  scopedRelease,
  scopedTempDir,
  spawnCli
} from "../support/cli.ts"
import { snapshotTree } from "../support/release.ts"

const MB = 1024 * 1024

describe("bin/relpub publish of a release changed after verification", () => {
  it.scopedLive("exits 37, publishes nothing and leaves no claim or staging behind", () =>
    Effect.gen(function*() {
      // Staging copies two files at a time: the third starts only after one of the
      // first two (60 MiB each) is copied and hashed, long after the claim appears.
      const release = yield* scopedRelease({
        files: [0, 1, 2].map((i) => ({ path: `big-${i}.bin`, content: 60 * MB }))
      })
      const repo = path.join(yield* scopedTempDir("relpub-tamper-"), "repo")
      const args = ["publish", release.dir, "--version", "v1.0.0", "--repository", repo,
        "--validation-result", release.validationFile]
      fs.mkdirSync(repo)
      const before = snapshotTree(repo)

      const p = yield* spawnCli([...args, "--json"])
      const claim = path.join(repo, ".relpub/claims/1.0.0.json")
      const start = Date.now()
      while (!fs.existsSync(claim)) {
        if (p.child.exitCode !== null) {
          const r = yield* p.result
          return yield* Effect.dieMessage(`ended before claiming: ${describeResult(r)}`)
        }
        if (Date.now() - start > 60_000) return yield* Effect.dieMessage("no claim after 60 s")
        yield* Effect.sleep("2 millis")
      }
      // Same size, one byte different: only the hash can tell.
      const target = path.join(release.dir, "big-2.bin")
      const fd = fs.openSync(target, "r+")
      const byte = Buffer.alloc(1)
      fs.readSync(fd, byte, 0, 1, 30 * MB)
      fs.writeSync(fd, Buffer.from([byte[0]! ^ 0xff]), 0, 1, 30 * MB)
      fs.closeSync(fd)

      const r = yield* p.result
      assert.strictEqual(r.code, 37, describeResult(r))
      const report = JSON.parse(r.stdout)
      assert.strictEqual(report.exit_code, 37)
      assert.include(report.errors.join("\n"), "big-2.bin")
      assert.isFalse(fs.existsSync(path.join(repo, "releases/v1.0.0")))
      assert.isFalse(fs.existsSync(path.join(repo, "index.json")))
      assert.deepStrictEqual(listFiles(path.join(repo, ".relpub/claims")), [])
      assert.deepStrictEqual(listFiles(path.join(repo, ".relpub/staging")), [])
      const left = Object.keys(snapshotTree(repo)).filter((k) => !(k in before) && !k.endsWith("/"))
      assert.deepStrictEqual(left, [], "files left in the repository")

      // The manifest still has the old hash, so a new publish is refused before any write (30).
      const again = yield* runCli(args)
      assert.strictEqual(again.code, 30, describeResult(again))
      assert.include(again.stderr, "big-2.bin")
      assert.deepStrictEqual(checkRepository(repo).problems, ["index.json is missing"])
    }), 120_000)
})
