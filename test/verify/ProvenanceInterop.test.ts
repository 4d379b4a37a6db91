// The provenance `relpub prepare` writes, checked by code relpub's authors did not
// write: scripts/check-provenance.py parses it with the in-toto Attestation
// Framework's official bindings (PyPI in-toto-attestation: Statement v1 and SLSA
// provenance v1 protobuf messages, json_format with unknown fields refused, their
// validators) and checks the DSSE envelope with securesystemslib. Both come from
// scripts/servers/requirements.txt, installed into .venv-servers by `make test`.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { describeResult, ROOT, runCli, runProcess, scopedTempDir } from "../support/cli.ts"
import { CYCLONEDX_SBOM, putFile } from "../support/release.ts"

const PYTHON = path.join(ROOT, ".venv-servers", "bin", "python")
const CHECKER = path.join(ROOT, "scripts", "check-provenance.py")

// Skipped only where the venv is absent; CI runs `make test`, which installs it,
// so there a missing checker fails the tests instead of skipping them.
const unavailable = (): string => {
  if (!fs.existsSync(PYTHON)) return `${PYTHON} is missing (run bash scripts/servers/install.sh)`
  const probe = spawnSync(PYTHON, ["-c", "import in_toto_attestation, securesystemslib"], {
    encoding: "utf8"
  })
  return probe.status === 0
    ? ""
    : `in-toto-attestation or securesystemslib is not installed in .venv-servers ` +
      `(run bash scripts/servers/install.sh): ${probe.stderr.trim().split("\n").pop()}`
}
const reason = unavailable()
const skip = reason !== "" && process.env["CI"] === undefined
const title = (t: string) => (skip ? `${t} (skipped: ${reason})` : t)

const NO_CI = { GITHUB_ACTIONS: "", GITLAB_CI: "" }
const GITHUB = {
  GITHUB_ACTIONS: "true",
  GITHUB_SERVER_URL: "https://github.com",
  GITHUB_REPOSITORY: "acme/app",
  GITHUB_RUN_ID: "1234",
  GITHUB_RUN_ATTEMPT: "2",
  GITHUB_WORKFLOW_REF: "acme/app/.github/workflows/release.yml@refs/tags/v1.4.0",
  GITHUB_SHA: "0123456789abcdef0123456789abcdef01234567",
  GITHUB_REF: "refs/tags/v1.4.0",
  GITHUB_EVENT_NAME: "push",
  GITHUB_REPOSITORY_ID: "42",
  RUNNER_ENVIRONMENT: "github-hosted",
  GITLAB_CI: ""
}
const GITLAB = {
  GITHUB_ACTIONS: "",
  GITLAB_CI: "true",
  CI_SERVER_URL: "https://gitlab.example.com",
  CI_PROJECT_PATH: "acme/app",
  CI_RUNNER_ID: "7",
  CI_COMMIT_REF_NAME: "main",
  CI_COMMIT_SHA: "89abcdef0123456789abcdef0123456789abcdef",
  CI_JOB_ID: "99",
  CI_PIPELINE_ID: "98"
}

/** A release directory of artifacts, prepared by `relpub prepare` with a `relpub keygen` key. */
const prepared = (
  options: {
    readonly keyType?: "ed25519" | "ecdsa-p256" | "rsa"
    readonly sign?: boolean
    readonly sbom?: boolean
    readonly extra?: ReadonlyArray<string>
    readonly env?: Record<string, string>
  } = {}
) =>
  Effect.gen(function*() {
    const root = yield* scopedTempDir("relpub-interop-")
    const dir = path.join(root, "dist")
    putFile(path.join(dir, "app-linux-amd64.tar.gz"), randomBytes(4096))
    putFile(path.join(dir, "docs", "CHANGELOG.md"), "# 1.4.0\n")
    putFile(path.join(root, "bom.cdx.json"), JSON.stringify(CYCLONEDX_SBOM))
    const key = path.join(root, "release")
    const keygen = yield* runCli(["keygen", "--type", options.keyType ?? "ed25519", "--out", key])
    assert.strictEqual(keygen.code, 0, describeResult(keygen))
    const signing = options.sign === false ? [] : ["--signing-key", `${key}.key`]
    const sbom = options.sbom === true ? ["--sbom", path.join(root, "bom.cdx.json")] : []
    const r = yield* runCli(
      ["prepare", dir, "--version", "v1.4.0", "--json", ...signing, ...sbom, ...(options.extra ?? [])],
      { env: options.env ?? NO_CI }
    )
    assert.strictEqual(r.code, 0, describeResult(r))
    const out = JSON.parse(r.stdout)
    const file = path.join(dir, out.provenance.file)
    return { root, dir, file, publicKey: `${key}.pub`, keyId: out.signingKey?.id as string }
  })

const check = (file: string, extra: ReadonlyArray<string> = []) =>
  runProcess(PYTHON, [CHECKER, file, ...extra])

const statementOf = (file: string): any => {
  const line = JSON.parse(fs.readFileSync(file, "utf8").trim())
  return "payload" in line ? JSON.parse(Buffer.from(line.payload, "base64").toString("utf8")) : line
}

describe("provenance from relpub prepare, checked by the in-toto attestation bindings", () => {
  for (const keyType of ["ed25519", "ecdsa-p256", "rsa"] as const) {
    it.scoped.skipIf(skip)(title(`a ${keyType}-signed DSSE envelope passes, signature included`), () =>
      Effect.gen(function*() {
        const p = yield* prepared({ keyType, extra: ["--sign-files"] })
        const r = yield* check(p.file, ["--public-key", p.publicKey])
        assert.strictEqual(r.code, 0, describeResult(r))
        assert.include(r.stdout, "ok: in-toto Statement v1 with SLSA provenance v1, 2 subject(s)")
        assert.include(r.stdout, `DSSE signature by ${p.keyId} verified`)
      }))
  }

  it.scoped.skipIf(skip)(title("GitHub Actions and GitLab CI provenance, with an SBOM subject, passes"), () =>
    Effect.gen(function*() {
      for (const env of [GITHUB, GITLAB]) {
        const p = yield* prepared({ env, sbom: true })
        const r = yield* check(p.file, ["--public-key", p.publicKey])
        assert.strictEqual(r.code, 0, describeResult(r))
        assert.include(r.stdout, "3 subject(s)")
        const s = statementOf(p.file)
        assert.strictEqual(s.predicate.buildDefinition.resolvedDependencies[0].digest.gitCommit,
          env.GITHUB_ACTIONS === "true" ? GITHUB.GITHUB_SHA : GITLAB.CI_COMMIT_SHA)
      }
    }))

  it.scoped.skipIf(skip)(title("an unsigned plain statement with flag-given builder and source passes"), () =>
    Effect.gen(function*() {
      const p = yield* prepared({
        sign: false,
        extra: ["--builder-id", "https://ci.example.com/builders/7", "--invocation-id",
          "https://ci.example.com/runs/1", "--source-repository", "git+https://example.com/acme/app"]
      })
      const r = yield* check(p.file)
      assert.strictEqual(r.code, 0, describeResult(r))
      assert.include(r.stdout, "plain statement, unsigned")
      assert.include(r.stdout, "builder https://ci.example.com/builders/7")
    }))

  // Each edit of a prepared statement breaks one rule; the checker must name it.
  const broken: ReadonlyArray<readonly [string, (s: any) => void, RegExp]> = [
    ["a subject without its digest", (s) => delete s.subject[0].digest,
      /At least one digest required \(subject 0\)/],
    ["no subject", (s) => (s.subject = []), /At least one subject required/],
    ["another statement type", (s) => (s._type = "https://in-toto.io/Statement/v0.1"),
      /Wrong statement type/],
    ["a SLSA v0.2 predicate type", (s) => (s.predicateType = "https://slsa.dev/provenance/v0.2"),
      /is not https:\/\/slsa\.dev\/provenance\/v1/],
    ["a predicate without builder id", (s) => delete s.predicate.runDetails.builder.id,
      /runDetails\.builder\.id required/],
    ["a predicate without buildType", (s) => delete s.predicate.buildDefinition.buildType,
      /buildDefinition\.buildType required/],
    ["a predicate without externalParameters",
      (s) => delete s.predicate.buildDefinition.externalParameters,
      /buildDefinition\.externalParameters required/],
    ["an unknown predicate field", (s) => (s.predicate.runDetails.builder.name = "relpub"),
      /has no field named "name"/],
    ["a protobuf field name for a JSON name", (s) => {
      s.predicate.buildDefinition.build_type = s.predicate.buildDefinition.buildType
      delete s.predicate.buildDefinition.buildType
    }, /'build_type' is the protobuf field name; the JSON name is 'buildType'/],
    ["a startedOn that is no RFC 3339 time", (s) => (s.predicate.runDetails.metadata.startedOn = "today"),
      /startedOn/],
    ["a sha256 digest of the wrong length", (s) => (s.subject[1].digest.sha256 = "abcd"),
      /subject\[1\]\.digest\.sha256: 2 bytes, sha256 has 32/],
    ["a resolved dependency with neither name, URI nor digest",
      (s) => (s.predicate.buildDefinition.resolvedDependencies = [{}]),
      /resolvedDependencies\[0\]: At least one of name, URI, or digest/]
  ]

  it.scoped.skipIf(skip)(title("rejects statements that break the in-toto or SLSA v1 rules"), () =>
    Effect.gen(function*() {
      const p = yield* prepared({ sign: false })
      const original = statementOf(p.file)
      for (const [what, edit, message] of broken) {
        const s = structuredClone(original)
        edit(s)
        const file = path.join(p.root, "broken.intoto.jsonl")
        putFile(file, `${JSON.stringify(s)}\n`)
        const r = yield* check(file)
        assert.strictEqual(r.code, 1, `${what}: ${describeResult(r)}`)
        assert.match(r.stderr, /INVALID/, what)
        assert.match(r.stderr, message, what)
      }
    }))

  it.scoped.skipIf(skip)(title("rejects a DSSE envelope whose payload was changed after signing"), () =>
    Effect.gen(function*() {
      const p = yield* prepared()
      const envelope = JSON.parse(fs.readFileSync(p.file, "utf8"))
      const s = statementOf(p.file)
      s.predicate.runDetails.builder.id = "https://evil.example.com/builder"
      envelope.payload = Buffer.from(JSON.stringify(s)).toString("base64")
      putFile(p.file, `${JSON.stringify(envelope)}\n`)
      const unkeyed = yield* check(p.file)
      assert.strictEqual(unkeyed.code, 0, describeResult(unkeyed)) // well-formed, only the signature is wrong
      const r = yield* check(p.file, ["--public-key", p.publicKey])
      assert.strictEqual(r.code, 1, describeResult(r))
      assert.match(r.stderr, new RegExp(`no DSSE signature \\(${p.keyId}\\) verifies`))
    }))

  it.scoped("prepare refuses an empty --builder-id or --source-repository", () =>
    Effect.gen(function*() {
      // Both would give provenance the validators reject (no builder id; a
      // resolved dependency with neither URI nor digest): exit 2, nothing written.
      const root = yield* scopedTempDir("relpub-interop-")
      const dir = path.join(root, "dist")
      putFile(path.join(dir, "app.tar.gz"), randomBytes(64))
      for (const flag of ["--builder-id", "--source-repository"]) {
        const r = yield* runCli(["prepare", dir, "--version", "1.0.0", flag, ""], { env: NO_CI })
        assert.strictEqual(r.code, 2, describeResult(r))
        assert.include(r.stderr, `${flag}: must not be empty`)
        assert.deepStrictEqual(fs.readdirSync(dir), ["app.tar.gz"])
      }
    }))
})
