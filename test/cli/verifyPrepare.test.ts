// End to end: `relpub prepare` then `relpub verify` as a pipeline runs them,
// with keys from `relpub keygen`, checked against sha256sum, openssl and age.
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { randomBytes } from "node:crypto"
import { Effect } from "effect"
import { describeResult, runCli, runProcess, scopedTempDir } from "../support/cli.ts"
import { CYCLONEDX_SBOM, putFile } from "../support/release.ts"

const readJson = (file: string): any => JSON.parse(fs.readFileSync(file, "utf8"))


/** A directory of artifacts, a key pair from `relpub keygen` and a trusted-keys dir with its public key. */
const setup = Effect.gen(function*() {
  const root = yield* scopedTempDir("relpub-prepare-")
  const dir = path.join(root, "dist")
  putFile(path.join(dir, "app-linux-amd64.tar.gz"), randomBytes(8192))
  putFile(path.join(dir, "docs", "CHANGELOG.md"), "# 1.4.0\n")
  putFile(path.join(root, "sbom.cdx.json"), JSON.stringify(CYCLONEDX_SBOM))
  const keygen = yield* runCli(["keygen", "--out", path.join(root, "release")])
  assert.strictEqual(keygen.code, 0, describeResult(keygen))
  putFile(path.join(root, "keys", "release.pub"), fs.readFileSync(path.join(root, "release.pub")))
  const keyId = /key id ([0-9a-f]{64})/.exec(keygen.stdout)![1]!.slice(0, 16)
  return { root, dir, keys: path.join(root, "keys"), key: path.join(root, "release.key"), keyId }
})

type Setup = Effect.Effect.Success<typeof setup>

// Outside CI, whatever CI runs these tests: the provenance is then named after the directory.
const NO_CI = { GITHUB_ACTIONS: "", GITLAB_CI: "" }

const prepare = (s: Setup, extra: ReadonlyArray<string> = [], env: Record<string, string> = NO_CI) =>
  runCli(["prepare", s.dir, "--version", "v1.4.0", "--signing-key", s.key, ...extra], { env }).pipe(
    Effect.tap((r) => assert.strictEqual(r.code, 0, describeResult(r)))
  )

const verify = (s: Setup, extra: ReadonlyArray<string> = []) => runCli(["verify", s.dir, ...extra])

describe("relpub prepare and verify", () => {
  it.effect("relpub --help lists both commands", () =>
    Effect.gen(function*() {
      const r = yield* runCli(["--help"])
      assert.strictEqual(r.code, 0, describeResult(r))
      assert.match(r.stdout, /- verify /)
      assert.match(r.stdout, /- prepare /)
    }))

  it.scoped("a prepared release passes sha256sum -c, openssl and verify, which writes the result publish reads", () =>
    Effect.gen(function*() {
      const s = yield* setup
      yield* prepare(s, ["--sbom", path.join(s.root, "sbom.cdx.json"), "--sign-files"])
      const sums = yield* runProcess("sha256sum", ["-c", "--strict", "SHA256SUMS"], { cwd: s.dir })
      assert.strictEqual(sums.code, 0, describeResult(sums))
      const openssl = yield* runProcess("openssl", ["pkeyutl", "-verify", "-pubin", "-inkey",
        path.join(s.root, "release.pub"), "-rawin", "-in", path.join(s.dir, "SHA256SUMS"),
        "-sigfile", path.join(s.dir, "SHA256SUMS.sig")])
      assert.strictEqual(openssl.code, 0, describeResult(openssl))

      const output = path.join(s.root, "verification.json")
      const r = yield* verify(s, ["--trusted-keys", s.keys, "--require-signatures", "--output", output])
      assert.strictEqual(r.code, 0, describeResult(r))
      assert.match(r.stdout, /^FILE\s+CHECK\s+OK\s+REASON\s+KEY\s+DETAIL$/m)
      assert.match(r.stdout, /verification passed/)
      const result = readJson(output)
      assert.include(result, {
        passed: true,
        hash_verified: true,
        signature_verified: true,
        sbom_validated: true,
        slsa_validated: true,
        exit_code: 0,
        sbom_id: CYCLONEDX_SBOM.serialNumber
      })
      assert.strictEqual(result.provenance_hash,
        (yield* runProcess("sha256sum", [path.join(s.dir, "dist.intoto.jsonl")])).stdout.split(" ")[0])

      const json = yield* verify(s, ["--trusted-keys", s.keys, "--json"])
      assert.strictEqual(json.code, 0, describeResult(json))
      assert.deepStrictEqual(JSON.parse(json.stdout).findings, result.findings)

      // The pipeline: verify, then publish with the result it wrote.
      const validation = path.join(s.root, "validation.json")
      putFile(validation, JSON.stringify({ passed: true }))
      const published = yield* runCli(["publish", s.dir, "--version", "v1.4.0", "--repository",
        path.join(s.root, "repo"), "--verification-result", output, "--validation-result", validation])
      assert.strictEqual(published.code, 0, describeResult(published))
    }))

  it.scoped("verify fails with 30 naming the file and the key when the trusted key is another one", () =>
    Effect.gen(function*() {
      const s = yield* setup
      yield* prepare(s)
      const other = path.join(s.root, "other")
      const keygen = yield* runCli(["keygen", "--out", path.join(s.root, "other-key")])
      putFile(path.join(other, "other.pub"), fs.readFileSync(path.join(s.root, "other-key.pub")))
      const otherId = /key id ([0-9a-f]{64})/.exec(keygen.stdout)![1]!.slice(0, 16)
      const r = yield* verify(s, ["--trusted-keys", other])
      assert.strictEqual(r.code, 30, describeResult(r))
      assert.match(r.stdout, new RegExp(`^SHA256SUMS\\.sig\\s+signature\\s+NO\\s+bad-signature\\s+${otherId}`, "m"))
      assert.include(r.stderr, "SHA256SUMS.sig")
      assert.include(r.stderr, otherId)
      // The DSSE envelope names the key that signed it, which is not trusted.
      const dsse = `^dist\\.intoto\\.jsonl\\s+signature\\s+NO\\s+unknown-key\\s.*signed by ${s.keyId}`
      assert.match(r.stdout, new RegExp(dsse, "m"))
    }))

  it.scoped("verify fails with 30 when an artifact was changed after prepare", () =>
    Effect.gen(function*() {
      const s = yield* setup
      yield* prepare(s)
      fs.appendFileSync(path.join(s.dir, "docs", "CHANGELOG.md"), "- sneaky\n")
      const r = yield* verify(s, ["--trusted-keys", s.keys])
      assert.strictEqual(r.code, 30, describeResult(r))
      assert.match(r.stdout, /^docs\/CHANGELOG\.md\s+hash\s+NO\s+digest-mismatch/m)
    }))

  it.scoped("verify --require-signatures fails with 34 on a release prepared without a key", () =>
    Effect.gen(function*() {
      const s = yield* setup
      const r = yield* runCli(["prepare", s.dir, "--version", "1.4.0"], { env: NO_CI })
      assert.strictEqual(r.code, 0, describeResult(r))
      assert.isFalse(fs.existsSync(path.join(s.dir, "SHA256SUMS.sig")))
      assert.strictEqual((yield* verify(s)).code, 0)
      const required = yield* verify(s, ["--require-signatures"])
      assert.strictEqual(required.code, 34, describeResult(required))
    }))

  it.scoped("verify fails with 35 on a .enc file that is not age, and passes a real one", () =>
    Effect.gen(function*() {
      const s = yield* setup
      const hasAge = (yield* runProcess("age", ["--version"])).code === 0
      if (hasAge) {
        const identity = path.join(s.root, "age.key")
        yield* runProcess("age-keygen", ["-o", identity])
        const recipient = (yield* runProcess("age-keygen", ["-y", identity])).stdout.trim()
        const enc = yield* runProcess("age", ["-r", recipient, "-o", path.join(s.dir, "app.tar.gz.enc"),
          path.join(s.dir, "app-linux-amd64.tar.gz")])
        assert.strictEqual(enc.code, 0, describeResult(enc))
        yield* prepare(s)
        const ok = yield* verify(s, ["--trusted-keys", s.keys, "--require-encryption"])
        assert.strictEqual(ok.code, 0, describeResult(ok))
        fs.rmSync(path.join(s.dir, "app.tar.gz.enc"))
      }
      putFile(path.join(s.dir, "secrets.enc"), randomBytes(512))
      yield* prepare(s, ["--force"])
      const r = yield* verify(s, ["--trusted-keys", s.keys])
      assert.strictEqual(r.code, 35, describeResult(r))
      assert.match(r.stdout, /^secrets\.enc\s+encryption\s+NO\s+not-age/m)
    }))

  it.scoped("verify fails with 33 on an invalid CycloneDX SBOM, and prepare refuses one with 33", () =>
    Effect.gen(function*() {
      const s = yield* setup
      const invalid = JSON.stringify({ ...CYCLONEDX_SBOM, components: [{ type: "spaceship", name: "x" }] })
      putFile(path.join(s.root, "bad", "sbom.cdx.json"), invalid)
      const refused = yield* runCli(["prepare", s.dir, "--version", "v1.4.0", "--signing-key", s.key,
        "--sbom", path.join(s.root, "bad", "sbom.cdx.json")], { env: NO_CI })
      assert.strictEqual(refused.code, 33, describeResult(refused))
      assert.isFalse(fs.existsSync(path.join(s.dir, "manifest.json")))

      putFile(path.join(s.dir, "sbom.cdx.json"), invalid)
      yield* prepare(s)
      const r = yield* verify(s, ["--trusted-keys", s.keys])
      assert.strictEqual(r.code, 33, describeResult(r))
      assert.match(r.stdout, /^sbom\.cdx\.json\s+sbom\s+NO\s+schema-invalid/m)
    }))

  it.scoped("prepare refuses to overwrite manifest.json (exit 2) unless --force", () =>
    Effect.gen(function*() {
      const s = yield* setup
      yield* prepare(s)
      const again = yield* runCli(["prepare", s.dir, "--version", "v1.4.0", "--signing-key", s.key], { env: NO_CI })
      assert.strictEqual(again.code, 2, describeResult(again))
      assert.include(again.stderr, "--force")
      putFile(path.join(s.dir, "app-darwin-arm64.tar.gz"), randomBytes(100))
      yield* prepare(s, ["--force"])
      const listed = readJson(path.join(s.dir, "manifest.json")).files.map((f: any) => f.path)
      assert.include(listed, "app-darwin-arm64.tar.gz")
      assert.strictEqual((yield* verify(s, ["--trusted-keys", s.keys])).code, 0)
    }))

  it.scoped("prepare records GitHub Actions as builder, and verify checks the expected builder and source", () =>
    Effect.gen(function*() {
      const s = yield* setup
      const env = {
        GITHUB_ACTIONS: "true",
        GITHUB_SERVER_URL: "https://github.com",
        GITHUB_REPOSITORY: "acme/app",
        GITHUB_RUN_ID: "1234",
        GITHUB_RUN_ATTEMPT: "1",
        GITHUB_WORKFLOW_REF: "acme/app/.github/workflows/release.yml@refs/tags/v1.4.0",
        GITHUB_SHA: "0123456789abcdef0123456789abcdef01234567",
        GITHUB_REF: "refs/tags/v1.4.0",
        GITLAB_CI: ""
      }
      yield* prepare(s, [], env)
      const builder = "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.4.0"
      const ok = yield* verify(s, ["--trusted-keys", s.keys, "--expected-builder", builder,
        "--expected-source", "github.com/acme/app", "--output", path.join(s.root, "v.json")])
      assert.strictEqual(ok.code, 0, describeResult(ok))
      assert.strictEqual(readJson(path.join(s.root, "v.json")).slsa_id,
        "https://github.com/acme/app/actions/runs/1234/attempts/1")
      const wrong = yield* verify(s, ["--trusted-keys", s.keys, "--expected-source", "github.com/acme/fork"])
      assert.strictEqual(wrong.code, 30, describeResult(wrong))
      assert.match(wrong.stdout, /^app\.intoto\.jsonl\s+provenance\s+NO\s+source-mismatch/m)
    }))

  it.scoped("verify reads trusted_keys from a policy file, relative to the file", () =>
    Effect.gen(function*() {
      const s = yield* setup
      yield* prepare(s)
      const policy = path.join(s.root, "policy.json")
      putFile(policy, JSON.stringify({ mode: "strict", require_signatures: true, trusted_keys: "keys" }))
      const r = yield* runCli(["verify", s.dir, "--policy-file", policy], { cwd: "/" })
      assert.strictEqual(r.code, 0, describeResult(r))
    }))
})
