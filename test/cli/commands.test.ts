// End to end: the commands besides publish's exit codes (list, show, keygen,
// signed publishes checked with openssl, --help, --version).
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { ExitCode } from "../../src/domain/ExitCode.ts"
import {
  checkRepository,
  describeResult,
  listFiles,
  ROOT,
  runCli,
  runProcess,
  scopedRelease,
  scopedTempDir
} from "../support/cli.ts"
import { type ReleaseFixture, snapshotTree } from "../support/release.ts"

const readJson = (file: string): any => JSON.parse(fs.readFileSync(file, "utf8"))

/** Publish `release` as `version`, which must succeed. */
const publish = (
  release: ReleaseFixture,
  repo: string,
  version: string,
  extra: ReadonlyArray<string> = []
) =>
  runCli(["publish", release.dir, "--version", version, "--repository", repo,
    "--validation-result", release.validationFile, ...extra]).pipe(
      Effect.tap((r) => assert.strictEqual(r.code, 0, describeResult(r)))
    )

type KeyType = "ed25519" | "ecdsa-p256" | "rsa"

/** openssl's verdict on a detached signature; the command line depends on the key type. */
const opensslVerify = (type: KeyType, pub: string, file: string, sig: string) => {
  const args = type === "ed25519"
    ? ["pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", file, "-sigfile", sig]
    : type === "rsa"
    ? ["dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32",
      "-verify", pub, "-signature", sig, file]
    : ["dgst", "-sha256", "-verify", pub, "-signature", sig, file]
  return runProcess("openssl", args)
}

describe("relpub list and show", () => {
  it.scoped("list prints every version newest first, and --json prints index.json's releases", () =>
    Effect.gen(function*() {
      const release = yield* scopedRelease()
      const repo = path.join(yield* scopedTempDir(), "repo")
      yield* publish(release, repo, "v1.0.0")
      yield* publish(release, repo, "v1.1.0")
      const text = yield* runCli(["list", "--repository", repo])
      assert.strictEqual(text.code, 0, describeResult(text))
      const lines = text.stdout.trimEnd().split("\n")
      assert.match(lines[0]!, /^VERSION\s+PUBLISHED\s+FILES\s+BYTES\s+SIGNED\s+SHA256\s+YANKED$/)
      assert.deepStrictEqual(lines.slice(1).map((l) => l.split(/\s+/)[0]), ["v1.1.0", "v1.0.0"])
      const json = yield* runCli(["list", "--repository", repo, "--json"])
      assert.strictEqual(json.code, 0, describeResult(json))
      assert.deepStrictEqual(
        JSON.parse(json.stdout).releases,
        readJson(path.join(repo, "index.json")).releases
      )
    }))

  it.scoped("list of a repository that does not exist says so, exits 0 and creates nothing", () =>
    Effect.gen(function*() {
      const repo = path.join(yield* scopedTempDir(), "none")
      const r = yield* runCli(["list", "--repository", repo])
      assert.strictEqual(r.code, 0, describeResult(r))
      assert.include(r.stdout, "no releases")
      assert.isFalse(fs.existsSync(repo))
    }))

  it.scoped("show prints the record, --json prints release.json, a missing version exits 33", () =>
    Effect.gen(function*() {
      const release = yield* scopedRelease()
      const repo = path.join(yield* scopedTempDir(), "repo")
      yield* publish(release, repo, "v1.0.0")
      const record = readJson(path.join(repo, "releases/v1.0.0/release.json"))
      const text = yield* runCli(["show", "v1.0.0", "--repository", repo])
      assert.strictEqual(text.code, 0, describeResult(text))
      assert.include(text.stdout, `sha256        ${record.sha256}`)
      for (const f of release.files) assert.include(text.stdout, `${f.sha256}`)
      assert.include(text.stdout, "signed record no")
      const json = yield* runCli(["show", "v1.0.0", "--repository", repo, "--json"])
      assert.deepStrictEqual(JSON.parse(json.stdout), record)
      const before = fs.readFileSync(path.join(repo, "index.json"))
      const missing = yield* runCli(["show", "v9.9.9", "--repository", repo])
      assert.strictEqual(missing.code, 33, describeResult(missing))
      assert.include(missing.stderr, "v9.9.9")
      assert.strictEqual(missing.stdout, "")
      assert.deepStrictEqual(fs.readFileSync(path.join(repo, "index.json")), before)
    }))
})

describe("relpub yank", () => {
  it.scoped("marks a version yanked with a signed audit record, leaving its files; list, show and fetch say so", () =>
    Effect.gen(function*() {
      const release = yield* scopedRelease()
      const dir = yield* scopedTempDir()
      const repo = path.join(dir, "repo")
      const keygen = yield* runCli(["keygen", "--out", path.join(dir, "release")])
      assert.strictEqual(keygen.code, 0, describeResult(keygen))
      fs.mkdirSync(path.join(dir, "trusted"))
      fs.copyFileSync(path.join(dir, "release.pub"), path.join(dir, "trusted", "release.pub"))
      const signing = ["--signing-key", path.join(dir, "release.key")]
      const trusted = ["--trusted-keys", path.join(dir, "trusted")]
      yield* publish(release, repo, "v1.0.0", signing)
      yield* publish(release, repo, "v1.1.0", signing)
      const releases = snapshotTree(path.join(repo, "releases"))
      const indexFile = path.join(repo, "index.json")
      const unchanged = fs.readFileSync(indexFile)

      const noReason = yield* runCli(["yank", "v1.0.0", "--repository", repo, ...signing])
      assert.strictEqual(noReason.code, 2, describeResult(noReason))
      const unknown = yield* runCli(["yank", "v9.9.9", "--repository", repo, "--reason", "x", ...signing])
      assert.strictEqual(unknown.code, 33, describeResult(unknown))
      assert.include(unknown.stderr, "v9.9.9 is not published")
      const unsigned = yield* runCli(["yank", "v1.0.0", "--repository", repo, "--reason", "x"])
      assert.strictEqual(unsigned.code, 2, describeResult(unsigned))
      assert.include(unsigned.stderr, "--signing-key")
      assert.deepStrictEqual(fs.readFileSync(indexFile), unchanged)

      const yanked = yield* runCli(["yank", "v1.0.0", "--repository", repo, "--reason", "CVE-2026-0003",
        ...signing, "--json"])
      assert.strictEqual(yanked.code, 0, describeResult(yanked))
      const outcome = JSON.parse(yanked.stdout)
      assert.strictEqual(outcome.status, "yanked")
      assert.isTrue(outcome.audit_signed)
      assert.deepStrictEqual(snapshotTree(path.join(repo, "releases")), releases)
      const check = checkRepository(repo)
      assert.deepStrictEqual(check.problems, [])
      assert.deepStrictEqual(check.chain.map((l) => `${l.event} ${l.version}`), [
        "yank v1.0.0",
        "publish v1.1.0",
        "publish v1.0.0"
      ])
      const entry = readJson(indexFile).releases.find((r: any) => r.version === "v1.0.0")
      assert.deepStrictEqual(entry.yanked, { at: outcome.yanked.at, reason: "CVE-2026-0003" })
      const afterYank = fs.readFileSync(indexFile)

      const again = yield* runCli(["yank", "1.0.0", "--repository", repo, "--reason", "twice", ...signing])
      assert.strictEqual(again.code, 0, describeResult(again))
      assert.include(again.stdout, "v1.0.0 is already yanked")
      assert.deepStrictEqual(fs.readFileSync(indexFile), afterYank)

      const list = yield* runCli(["list", "--repository", repo])
      assert.strictEqual(list.code, 0, describeResult(list))
      const rows = list.stdout.trimEnd().split("\n").slice(1).map((l) => l.split(/\s+/))
      assert.deepStrictEqual(rows.map((r) => [r[0], r.at(-1)]), [["v1.1.0", "no"], ["v1.0.0", "yes"]])
      const show = yield* runCli(["show", "v1.0.0", "--repository", repo])
      assert.include(show.stdout, `yanked        yes, at ${outcome.yanked.at}: CVE-2026-0003`)
      const showJson = yield* runCli(["show", "v1.0.0", "--repository", repo, "--json"])
      assert.deepStrictEqual(JSON.parse(showJson.stdout), {
        ...readJson(path.join(repo, "releases/v1.0.0/release.json")),
        yanked: entry.yanked
      })

      const refused = yield* runCli(["fetch", "v1.0.0", "--repository", repo, "--to", path.join(dir, "out"),
        ...trusted])
      assert.strictEqual(refused.code, 33, describeResult(refused))
      assert.include(refused.stderr, "yanked")
      assert.include(refused.stderr, "--allow-yanked")
      assert.isFalse(fs.existsSync(path.join(dir, "out")))
      const allowed = yield* runCli(["fetch", "v1.0.0", "--repository", repo, "--to", path.join(dir, "out"),
        ...trusted, "--allow-yanked"])
      assert.strictEqual(allowed.code, 0, describeResult(allowed))
      assert.include(allowed.stderr, "warning: v1.0.0 was yanked")

      const verified = yield* runCli(["verify-repo", "--repository", repo, ...trusted])
      assert.strictEqual(verified.code, 0, describeResult(verified))

      const undo = yield* runCli(["yank", "v1.0.0", "--repository", repo, "--reason", "false alarm", "--undo",
        ...signing])
      assert.strictEqual(undo.code, 0, describeResult(undo))
      assert.include(undo.stdout, "un-yanked v1.0.0")
      assert.isUndefined(readJson(indexFile).releases.find((r: any) => r.version === "v1.0.0").yanked)
      assert.strictEqual(checkRepository(repo).chain[0]?.event, "unyank")
      const fetched = yield* runCli(["fetch", "v1.0.0", "--repository", repo, "--to", path.join(dir, "out2"),
        ...trusted])
      assert.strictEqual(fetched.code, 0, describeResult(fetched))
      assert.deepStrictEqual(snapshotTree(path.join(repo, "releases")), releases)
    }))
})

describe("relpub doctor and repair", () => {
  it.scoped("doctor passes on a healthy repository and leaves no probe objects behind", () =>
    Effect.gen(function*() {
      const repo = yield* scopedTempDir()
      const r = yield* runCli(["doctor", "--repository", repo, "--json"])
      assert.strictEqual(r.code, 0, describeResult(r))
      const probes: Array<{ name: string; ok: boolean }> = JSON.parse(r.stdout).probes
      assert.deepStrictEqual(probes.filter((p) => !p.ok), [])
      assert.include(probes.map((p) => p.name), "create-only, 16 racing writers")
      assert.deepStrictEqual(listFiles(repo), [])
    }))

  it.scoped("doctor exits 36 on a stale claim; repair rolls it back; doctor then passes", () =>
    Effect.gen(function*() {
      const release = yield* scopedRelease()
      const repo = path.join(yield* scopedTempDir(), "repo")
      yield* publish(release, repo, "v1.0.0")
      const published = snapshotTree(path.join(repo, "releases"))
      // A publisher on this host whose process is gone, with a lease that has not run out.
      const dead = yield* runProcess("true", [])
      const claim = {
        schema: "relpub/claim/v1",
        version: "v2.0.0",
        transaction_id: "killed-tx",
        host: os.hostname(),
        pid: dead.pid,
        created_at: new Date().toISOString(),
        lease_expires_at: new Date(Date.now() + 3_600_000).toISOString(),
        staging_prefix: ".relpub/staging/killed-tx/"
      }
      fs.writeFileSync(path.join(repo, ".relpub/claims/2.0.0.json"), JSON.stringify(claim))
      fs.mkdirSync(path.join(repo, ".relpub/staging/killed-tx"))
      fs.writeFileSync(path.join(repo, ".relpub/staging/killed-tx/app.tar.gz"), "half")

      const sick = yield* runCli(["doctor", "--repository", repo])
      assert.strictEqual(sick.code, 36, describeResult(sick))
      assert.match(sick.stdout, /FAIL\s+no stale claims\s+stale: \.relpub\/claims\/2\.0\.0\.json/)

      const repair = yield* runCli(["repair", "--repository", repo])
      assert.strictEqual(repair.code, 0, describeResult(repair))
      assert.match(repair.stdout, /rolled back:\s+v2\.0\.0/)
      assert.deepStrictEqual(checkRepository(repo).problems, [])
      assert.deepStrictEqual(snapshotTree(path.join(repo, "releases")), published)

      const healthy = yield* runCli(["doctor", "--repository", repo])
      assert.strictEqual(healthy.code, 0, describeResult(healthy))
    }))
})

describe("relpub keygen and signed publishes", () => {
  for (const type of ["ed25519", "ecdsa-p256", "rsa"] satisfies Array<KeyType>) {
    it.scoped(`signs release.json and the audit record with a ${type} key openssl accepts`, () =>
      Effect.gen(function*() {
        const release = yield* scopedRelease()
        const dir = yield* scopedTempDir()
        const prefix = path.join(dir, "release-key")
        const keygen = yield* runCli(["keygen", "--type", type, "--out", prefix])
        assert.strictEqual(keygen.code, 0, describeResult(keygen))
        assert.strictEqual(fs.statSync(`${prefix}.key`).mode & 0o777, 0o600)
        const keyId = /key id ([0-9a-f]{64})/.exec(keygen.stdout)?.[1]
        assert.isDefined(keyId, keygen.stdout)

        const repo = path.join(dir, "repo")
        const signing = ["--signing-key", `${prefix}.key`, "--sign-audit-log", "--json"]
        const r = yield* publish(release, repo, "v1.0.0", signing)
        const report = JSON.parse(r.stdout)
        assert.isTrue(report.audit_log_signed)
        assert.deepStrictEqual(checkRepository(repo).problems, [])

        const recordFile = path.join(repo, "releases/v1.0.0/release.json")
        const record = readJson(recordFile)
        assert.strictEqual(record.signing_key_id, keyId)
        const audit = path.join(repo, "audit/v1.0.0.audit")
        const signed = [[recordFile, `${recordFile}.sig`], [`${audit}.json`, `${audit}.sig`]]
        for (const [file, sig] of signed) {
          const ok = yield* opensslVerify(type, `${prefix}.pub`, file, sig)
          assert.strictEqual(ok.code, 0, `openssl rejects ${sig}: ${describeResult(ok)}`)
          // The same check on other bytes must fail, or the check above proves nothing.
          const tampered = path.join(dir, "tampered.json")
          fs.writeFileSync(tampered, fs.readFileSync(file, "utf8").replace("v1.0.0", "v6.6.6"))
          const bad = yield* opensslVerify(type, `${prefix}.pub`, tampered, sig)
          assert.notStrictEqual(bad.code, 0, "openssl accepted a signature over other bytes")
        }

        const show = yield* runCli(["show", "v1.0.0", "--repository", repo])
        assert.include(show.stdout, `signed record yes (key ${keyId})`)
      }))
  }

  it.scoped("keygen exits 2 rather than overwrite an existing key, and leaves it unchanged", () =>
    Effect.gen(function*() {
      const prefix = path.join(yield* scopedTempDir(), "release-key")
      const first = yield* runCli(["keygen", "--out", prefix])
      assert.strictEqual(first.code, 0, describeResult(first))
      const key = fs.readFileSync(`${prefix}.key`)
      const again = yield* runCli(["keygen", "--out", prefix])
      assert.strictEqual(again.code, 2, describeResult(again))
      assert.include(again.stderr, "overwrite")
      assert.deepStrictEqual(fs.readFileSync(`${prefix}.key`), key)
    }))

  it.scoped("exits 2 on a signing key that is not a PEM private key, writing nothing", () =>
    Effect.gen(function*() {
      const release = yield* scopedRelease()
      const dir = yield* scopedTempDir()
      const key = path.join(dir, "bad.key")
      fs.writeFileSync(key, "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
      const repo = path.join(dir, "repo")
      const r = yield* runCli(["publish", release.dir, "--version", "v1.0.0", "--repository", repo,
        "--validation-result", release.validationFile, "--signing-key", key])
      assert.strictEqual(r.code, 2, describeResult(r))
      assert.include(r.stderr, key)
      assert.isFalse(fs.existsSync(repo))
    }))
})

describe("relpub --help and --version", () => {
  const publishFlags = ["--release-dir", "--release-version", "--repository", "--repository-type",
    "--repository-path", "--policy", "--publication-policy", "--policy-file",
    "--verification-result", "--validation-result", "--signing-key", "--sign-audit-log",
    "--require-signatures", "--require-encryption", "--dry-run", "--json", "--json-report",
    "--text-report", "--lease-seconds", "--verbose", "--version"]

  it.effect("relpub --help exits 0 and names every command and every publish flag", () =>
    Effect.gen(function*() {
      const r = yield* runCli(["--help"])
      assert.strictEqual(r.code, 0, describeResult(r))
      for (const command of ["publish", "list", "show", "yank", "repair", "doctor", "keygen"]) {
        assert.match(r.stdout, new RegExp(`^\\s*-?\\s*${command}\\b`, "m"), command)
      }
      for (const flag of publishFlags) assert.include(r.stdout, flag)
    }))

  it.effect("relpub publish --help exits 0 and describes every flag", () =>
    Effect.gen(function*() {
      const r = yield* runCli(["publish", "--help"])
      assert.strictEqual(r.code, 0, describeResult(r))
      for (const flag of publishFlags) assert.include(r.stdout, flag)
      assert.include(r.stdout, "(also --version)")
    }))

  it.effect("every command takes --verbose", () =>
    Effect.gen(function*() {
      const commands = ["publish", "prepare", "verify", "list", "show", "yank", "verify-repo", "fetch",
        "repair", "doctor", "keygen"]
      for (const command of commands) {
        const r = yield* runCli([command, "--help"])
        assert.strictEqual(r.code, 0, `${command}: ${describeResult(r)}`)
        assert.include(r.stdout, "--verbose", command)
      }
    }))

  it.effect("docs/ name every command and every flag its --help shows, and every exit code", () =>
    Effect.gen(function*() {
      const docsDir = path.join(ROOT, "docs")
      const docs = fs.readdirSync(docsDir).filter((f) => f.endsWith(".md"))
        .map((f) => fs.readFileSync(path.join(docsDir, f), "utf8")).join("\n")
      const guide = fs.readFileSync(path.join(docsDir, "user-guide.md"), "utf8")
      const commands = ["publish", "prepare", "verify", "list", "show", "yank", "verify-repo", "fetch",
        "repair", "doctor", "keygen"]
      for (const command of commands) {
        assert.match(guide, new RegExp(`^relpub ${command}\\s`, "m"), `user-guide.md synopsis of ${command}`)
        const r = yield* runCli([command, "--help"])
        const usage = r.stdout.split("\n").find((l) => l.startsWith("$ ")) ?? ""
        const flags = [...new Set(usage.match(/--[a-z0-9-]+/g) ?? [])]
        assert.isNotEmpty(flags, `${command} --help usage line: ${usage}`)
        for (const flag of flags) assert.include(docs, `\`${flag}`, `${command} ${flag} in docs/`)
      }
      const table = fs.readFileSync(path.join(docsDir, "exit-codes.md"), "utf8")
      for (const code of Object.values(ExitCode)) {
        assert.match(table, new RegExp(`^\\| ${code} \\|`, "m"), `exit code ${code} in exit-codes.md`)
      }
    }))

  it.effect("relpub --version prints the version of package.json", () =>
    Effect.gen(function*() {
      const r = yield* runCli(["--version"])
      assert.strictEqual(r.code, 0, describeResult(r))
      assert.strictEqual(r.stdout.trim(), readJson(path.join(ROOT, "package.json")).version)
    }))

  it.effect("relpub publish --version without a value exits 2, not printing the version", () =>
    Effect.gen(function*() {
      const r = yield* runCli(["publish", "--version"])
      assert.strictEqual(r.code, 2, describeResult(r))
      assert.notStrictEqual(r.stdout.trim(), readJson(path.join(ROOT, "package.json")).version)
    }))
})
