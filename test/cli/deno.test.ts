// relpub under Deno 2 (DESIGN.md: "It runs on Node.js (20 and newer) and on
// Deno 2"): deno.json's import map must follow package.json, and the CLI run
// from source by Deno must publish exactly what the Node bundle publishes,
// offline, reusing the node_modules npm installed ("nodeModulesDir": "manual").
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import {
  checkRepository,
  DENO,
  describeResult,
  ROOT,
  runCli,
  runProcess,
  scopedRelease,
  scopedTempDir
} from "../support/cli.ts"

const readJson = (file: string): any => JSON.parse(fs.readFileSync(file, "utf8"))

const GENERATOR = path.join(ROOT, "scripts", "deno-imports.mjs")

describe("deno.json", () => {
  it("maps each dependency of package.json to npm:<name>@<pinned version>, only", () => {
    const pkg = readJson(path.join(ROOT, "package.json"))
    const deno = readJson(path.join(ROOT, "deno.json"))
    const dependencies: Record<string, string> = pkg.dependencies
    const expected = Object.fromEntries(
      Object.entries(dependencies).map(([name, v]) => [name, `npm:${name}@${v}`])
    )
    assert.deepStrictEqual(deno.imports, expected, "run node scripts/deno-imports.mjs")
    assert.strictEqual(deno.imports["effect"], `npm:effect@${pkg.dependencies.effect}`)
    assert.strictEqual(deno.nodeModulesDir, "manual")
    assert.isString(deno.tasks?.relpub)
  })

  it.effect("deno-imports.mjs --check passes, and fails naming a dependency that drifted", () =>
    Effect.gen(function*() {
      const ok = yield* runProcess(process.execPath, [GENERATOR, "--check"])
      assert.strictEqual(ok.code, 0, describeResult(ok))

      const dir = yield* scopedTempDir("relpub-deno-imports-")
      const pkg = readJson(path.join(ROOT, "package.json"))
      const pinned = pkg.dependencies.effect
      pkg.dependencies.effect = "3.99.0"
      fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify(pkg))
      fs.copyFileSync(path.join(ROOT, "deno.json"), path.join(dir, "deno.json"))
      const drift = yield* runProcess(process.execPath, [GENERATOR, "--check", "--root", dir])
      assert.strictEqual(drift.code, 1, describeResult(drift))
      assert.include(drift.stderr, `effect: npm:effect@${pinned}, want npm:effect@3.99.0`)

      const fix = yield* runProcess(process.execPath, [GENERATOR, "--root", dir])
      assert.strictEqual(fix.code, 0, describeResult(fix))
      const fixed = readJson(path.join(dir, "deno.json"))
      assert.strictEqual(fixed.imports.effect, "npm:effect@3.99.0")
      const tasks = readJson(path.join(ROOT, "deno.json")).tasks
      assert.deepStrictEqual(fixed.tasks, tasks, "other keys are kept")
    }).pipe(Effect.scoped))
})

describe("relpub under Deno (deno run -A src/cli/main.ts)", () => {
  it.scoped("publishes offline what the Node bundle publishes; a duplicate exits 32", () =>
    Effect.gen(function*() {
      assert.isTrue(fs.existsSync(DENO), `${DENO} is missing (npm ci installs deno)`)
      const release = yield* scopedRelease()
      const dir = yield* scopedTempDir("relpub-deno-")
      const repo = path.join(dir, "repo")
      const env = { DENO_DIR: path.join(dir, "deno-dir"), DENO_NO_UPDATE_CHECK: "1" }
      // --cached-only and an empty DENO_DIR: nothing may come from the registry.
      const args = ["run", "--cached-only", "-A", "src/cli/main.ts", "publish", release.dir,
        "--version", "v1.0.0", "--repository", repo, "--validation-result", release.validationFile]

      const first = yield* runProcess(DENO, args, { cwd: ROOT, env, timeoutMs: 30_000 })
      assert.strictEqual(first.code, 0, describeResult(first))
      assert.include(first.stdout, "status              success")
      const check = checkRepository(repo)
      assert.deepStrictEqual(check.problems, [])
      assert.deepStrictEqual(check.index.releases.map((e: any) => e.version), ["v1.0.0"])
      for (const f of release.files) {
        assert.isTrue(fs.existsSync(path.join(repo, "releases/v1.0.0", f.path)))
      }
      assert.isTrue(fs.existsSync(path.join(repo, "audit/v1.0.0.audit.json")))
      assert.isTrue(fs.existsSync(path.join(repo, "index.md")))

      const before = fs.readFileSync(path.join(repo, "index.json"))
      const second = yield* runProcess(DENO, args, { cwd: ROOT, env, timeoutMs: 30_000 })
      assert.strictEqual(second.code, 32, describeResult(second))
      assert.deepStrictEqual(fs.readFileSync(path.join(repo, "index.json")), before)

      // The same release through the Node bundle records the same files and digest.
      const nodeRepo = path.join(dir, "node-repo")
      const node = yield* runCli(["publish", release.dir, "--version", "v1.0.0", "--repository",
        nodeRepo, "--validation-result", release.validationFile])
      assert.strictEqual(node.code, 0, describeResult(node))
      const fromDeno = readJson(path.join(repo, "releases/v1.0.0/release.json"))
      const fromNode = readJson(path.join(nodeRepo, "releases/v1.0.0/release.json"))
      assert.deepStrictEqual(fromDeno.files, fromNode.files)
      assert.strictEqual(fromDeno.sha256, fromNode.sha256)
    }), 60_000)
})
