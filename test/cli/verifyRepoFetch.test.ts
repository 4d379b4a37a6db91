// The verify-repo and fetch commands: in process (their exit codes and output,
// whatever main.ts registers), and through bin/relpub once the bundle has them.
import { Command, ValidationError } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import { Console, Effect, Layer, Logger, LogLevel, Ref } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fetchCommand } from "../../src/cli/commands/fetch.ts"
import { verifyRepoCommand } from "../../src/cli/commands/verifyRepo.ts"
import { CliExit, layer as exitLayer, setExitCode } from "../../src/cli/exit.ts"
import { exitCodeOf, type PublishError } from "../../src/domain/Errors.ts"
import { defaultPolicy } from "../../src/domain/Policy.ts"
import { Keys } from "../../src/domain/Records.ts"
import * as LocalRepository from "../../src/services/LocalRepository.ts"
import { publish } from "../../src/services/Publisher.ts"
import * as Signer from "../../src/services/Signer.ts"
import { BUNDLE, describeResult, runCli } from "../support/cli.ts"
import { ed25519Signer, scopedRelease, scopedTempDir, stack } from "../support/layers.ts"

const KEY = ed25519Signer()
const OTHER = Signer.generateKeyPair("ecdsa-p256")

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const app = Command.make("relpub").pipe(Command.withSubcommands([verifyRepoCommand, fetchCommand]))
const cli = Command.run(app, { name: "relpub", version: "test" })

/** Run the two commands in process the way main.ts runs every command, capturing output and exit code. */
const run = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const out: Array<string> = []
    const err: Array<string> = []
    const current = yield* Console.consoleWith(Effect.succeed)
    const capture = {
      ...current,
      log: (...a: ReadonlyArray<unknown>) => Effect.sync(() => void out.push(a.join(" "))),
      error: (...a: ReadonlyArray<unknown>) => Effect.sync(() => void err.push(a.join(" ")))
    }
    yield* cli(["node", "relpub", ...args]).pipe(
      Effect.catchIf(ValidationError.isValidationError, () => setExitCode(2)),
      Effect.catchAll((e: PublishError) =>
        Effect.zipRight(Console.error(`relpub: ${e.message}`), setExitCode(exitCodeOf(e)))
      ),
      Effect.withConsole(capture)
    )
    const code = yield* Ref.get(yield* CliExit)
    return { code, stdout: out.join("\n"), stderr: err.join("\n") } satisfies Run
  }).pipe(Effect.provide(Layer.mergeAll(NodeContext.layer, exitLayer)))

const show = (r: Run) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`

/** Publish `version` of a fresh fixture into the local repository at `repo`, signed by KEY. */
const publishSigned = (repo: string, version: string) =>
  Effect.gen(function*() {
    const fx = yield* scopedRelease()
    yield* publish({ releaseDir: fx.dir, version, policy: defaultPolicy(), validationResultFile: fx.validationFile })
      .pipe(Effect.provide(stack({ repository: LocalRepository.layer(repo), signer: KEY.layer })))
  }).pipe(Logger.withMinimumLogLevel(LogLevel.Warning))

/** A work directory with a signed local repository (1.0.0 and 1.1.0), trusted keys, an untrusted key. */
const setUp = Effect.gen(function*() {
  const work = yield* scopedTempDir("relpub-verify-repo-cli-")
  const repo = path.join(work, "repo")
  for (const version of ["1.0.0", "1.1.0"]) yield* publishSigned(repo, version)
  for (const [dir, pem] of [["trusted", KEY.publicKeyPem], ["untrusted", OTHER.publicKeyPem]] as const) {
    fs.mkdirSync(path.join(work, dir))
    fs.writeFileSync(path.join(work, dir, "release.pem"), pem)
  }
  return { work, repo, trusted: path.join(work, "trusted"), untrusted: path.join(work, "untrusted") }
})

describe("relpub verify-repo (in process)", () => {
  it.scopedLive("exits 0 on an intact repository, and 30 naming the changed artifact", () =>
    Effect.gen(function*() {
      const { repo, trusted } = yield* setUp
      const ok = yield* run(["verify-repo", "--repository", repo, "--trusted-keys", trusted])
      assert.strictEqual(ok.code, 0, show(ok))
      assert.match(ok.stdout, /^verify-repo passed: .* \(2 releases, 10 artifacts, 2 audit records, index serial 2\)$/)

      fs.appendFileSync(path.join(repo, Keys.releaseFile("1.0.0", "app.tar.gz")), "!")
      const bad = yield* run(["verify-repo", "--repository", repo, "--trusted-keys", trusted])
      assert.strictEqual(bad.code, 30, show(bad))
      assert.match(bad.stdout, /^SUBJECT\s+CHECK\s+REASON\s+DETAIL$/m)
      assert.match(bad.stdout, /releases\/1\.0\.0\/app\.tar\.gz\s+artifact\s+size-mismatch/)
      assert.include(bad.stderr, "size-mismatch")

      const json = yield* run(["verify-repo", "--repository", repo, "--trusted-keys", trusted, "--json"])
      const report = JSON.parse(json.stdout)
      assert.strictEqual(report.exit_code, 30)
      assert.isTrue(report.findings.some((f: any) => f.ok && f.check === "audit-chain"))
    }))

  it.scopedLive("with --state, remembers the index and exits 30 when an older one comes back", () =>
    Effect.gen(function*() {
      const { work, repo, trusted } = yield* setUp
      const state = path.join(work, "state.json")
      const older = fs.readFileSync(path.join(repo, Keys.index))
      yield* publishSigned(repo, "1.2.0")
      const first = yield* run(["verify-repo", "--repository", repo, "--trusted-keys", trusted, "--state", state])
      assert.strictEqual(first.code, 0, show(first))
      const remembered = JSON.parse(fs.readFileSync(state, "utf8"))
      assert.strictEqual(Object.values<any>(remembered.repositories)[0].serial, 3)

      // The newest audit record and its signature go too: only the state can tell.
      fs.writeFileSync(path.join(repo, Keys.index), older)
      fs.rmSync(path.join(repo, "audit/1.2.0.audit.json"))
      fs.rmSync(path.join(repo, "audit/1.2.0.audit.sig"))
      fs.rmSync(path.join(repo, "releases/1.2.0"), { recursive: true })
      const plain = yield* run(["verify-repo", "--repository", repo, "--trusted-keys", trusted])
      assert.strictEqual(plain.code, 0, show(plain))
      const rolled = yield* run(["verify-repo", "--repository", repo, "--trusted-keys", trusted, "--state", state])
      assert.strictEqual(rolled.code, 30, show(rolled))
      assert.match(rolled.stdout, /index\.json\s+freshness\s+rolled-back\s+serial 2 is lower than serial 3/)
      assert.strictEqual(Object.values<any>(JSON.parse(fs.readFileSync(state, "utf8")).repositories)[0].serial, 3)
    }))

  it.scopedLive("exits 30 for an untrusted key, 2 for a key directory without PEM keys, 36 on a storage error", () =>
    Effect.gen(function*() {
      const { work, repo, untrusted } = yield* setUp
      const unknown = yield* run(["verify-repo", "--repository", repo, "--trusted-keys", untrusted])
      assert.strictEqual(unknown.code, 30, show(unknown))
      assert.include(unknown.stdout, "unknown-key")

      fs.mkdirSync(path.join(work, "empty"))
      const usage = yield* run(["verify-repo", "--repository", repo, "--trusted-keys", path.join(work, "empty")])
      assert.strictEqual(usage.code, 2, show(usage))

      const index = path.join(repo, Keys.index)
      fs.rmSync(index)
      fs.mkdirSync(index)
      const storage = yield* run(["verify-repo", "--repository", repo, "--trusted-keys", path.join(work, "trusted")])
      assert.strictEqual(storage.code, 36, show(storage))
    }))
})

describe("relpub fetch (in process)", () => {
  it.scopedLive("exits 0 and writes the files; 30 with nothing written after tampering; 33 when unpublished", () =>
    Effect.gen(function*() {
      const { work, repo, trusted, untrusted } = yield* setUp
      const out = path.join(work, "out")
      const ok = yield* run(["fetch", "1.0.0", "--repository", repo, "--to", out, "--trusted-keys", trusted])
      assert.strictEqual(ok.code, 0, show(ok))
      assert.match(ok.stdout, /^[0-9a-f]{64} {2}app\.tar\.gz$/m)
      assert.isTrue(fs.existsSync(path.join(out, "docs/README.md")))

      const other = path.join(work, "other")
      const untrustedRun = yield* run(["fetch", "1.1.0", "--repository", repo, "--to", other,
        "--trusted-keys", untrusted])
      assert.strictEqual(untrustedRun.code, 30, show(untrustedRun))
      assert.include(untrustedRun.stderr, "unknown-key")

      fs.writeFileSync(path.join(repo, Keys.releaseFile("1.1.0", "docs/README.md")), "READ ME\n")
      const tampered = yield* run(["fetch", "1.1.0", "--repository", repo, "--to", other, "--trusted-keys", trusted])
      assert.strictEqual(tampered.code, 30, show(tampered))
      assert.include(tampered.stderr, "docs/README.md")
      assert.isFalse(fs.existsSync(other))

      const missing = yield* run(["fetch", "2.0.0", "--repository", repo, "--to", other, "--trusted-keys", trusted])
      assert.strictEqual(missing.code, 33, show(missing))
      assert.deepStrictEqual(fs.readdirSync(work).sort(), ["out", "repo", "trusted", "untrusted"])
    }))
})

// The bundle is built by `node scripts/build.mjs`; these run once main.ts registers the commands.
const CLI_CODE = path.join(path.dirname(BUNDLE), "relpub.cjs")
const registered = fs.existsSync(CLI_CODE) && fs.readFileSync(CLI_CODE, "utf8").includes("verify-repo")

describe.skipIf(!registered)("bin/relpub verify-repo and fetch", () => {
  it.scopedLive("verify a repository published by bin/relpub, then fetch from it, before and after tampering", () =>
    Effect.gen(function*() {
      const work = yield* scopedTempDir("relpub-verify-repo-bin-")
      const fx = yield* scopedRelease()
      const repo = path.join(work, "repo")
      const keyFile = path.join(work, "release.key")
      fs.writeFileSync(keyFile, KEY.privateKeyPem)
      fs.mkdirSync(path.join(work, "trusted"))
      fs.writeFileSync(path.join(work, "trusted", "release.pem"), KEY.publicKeyPem)
      const trusted = ["--trusted-keys", path.join(work, "trusted")]
      for (const version of ["v1.0.0", "v1.1.0"]) {
        const r = yield* runCli(["publish", fx.dir, "--version", version, "--repository", repo,
          "--validation-result", fx.validationFile, "--signing-key", keyFile])
        assert.strictEqual(r.code, 0, describeResult(r))
      }
      const ok = yield* runCli(["verify-repo", "--repository", repo, ...trusted])
      assert.strictEqual(ok.code, 0, describeResult(ok))
      const fetchTo = (version: string, dir: string) =>
        runCli(["fetch", version, "--repository", repo, "--to", path.join(work, dir), ...trusted])
      const fetched = yield* fetchTo("v1.1.0", "out")
      assert.strictEqual(fetched.code, 0, describeResult(fetched))

      fs.rmSync(path.join(repo, "audit/v1.0.0.audit.json"))
      const broken = yield* runCli(["verify-repo", "--repository", repo, ...trusted, "--json"])
      assert.strictEqual(broken.code, 30, describeResult(broken))
      const reasons = JSON.parse(broken.stdout).findings.filter((f: any) => !f.ok).map((f: any) => f.reason)
      assert.include(reasons, "missing")

      fs.appendFileSync(path.join(repo, "releases/v1.0.0/app.tar.gz"), "x")
      const refused = yield* fetchTo("v1.0.0", "bad")
      assert.strictEqual(refused.code, 30, describeResult(refused))
      assert.isFalse(fs.existsSync(path.join(work, "bad")))
      const missing = yield* fetchTo("v9.0.0", "bad")
      assert.strictEqual(missing.code, 33, describeResult(missing))
    }))
})
