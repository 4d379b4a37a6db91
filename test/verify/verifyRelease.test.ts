// relpub's own verification of a release directory, on releases written by
// prepareRelease with real keys, real DSSE provenance, real SBOMs and (when
// the age binary is installed) real age files.
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Either, Layer, Schema } from "effect"
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import { join } from "node:path"
import * as openpgp from "openpgp"
import { formatManifestJson, formatSha256Sums, parseManifestJson, parseSha256Sums } from "../../src/domain/Manifest.ts"
import { defaultPolicy } from "../../src/domain/Policy.ts"
import { VerificationResult } from "../../src/domain/Results.ts"
import * as Hasher from "../../src/services/Hasher.ts"
import { buildContext, prepareRelease, type PrepareRequest } from "../../src/services/Prepare.ts"
import * as ReleaseReader from "../../src/services/ReleaseReader.ts"
import { layer as verifierLayer, Verifier, verifyRelease, type VerifyRequest } from "../../src/services/Verifier.ts"
import { parseEnvelope, verifyEnvelope } from "../../src/verify/Dsse.ts"
import { rawKeysFromPem } from "../../src/verify/TrustedKeys.ts"
import { ed25519, type KeyPair, missing, p256, rsa, run, tempDir, which } from "./helpers.ts"

const Live = Layer.mergeAll(ReleaseReader.layer, Hasher.layer, NodeFileSystem.layer)

const sha256 = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex")

const CYCLONEDX = JSON.stringify({
  bomFormat: "CycloneDX",
  specVersion: "1.5",
  serialNumber: "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
  version: 1,
  components: [{ type: "library", name: "left-pad", version: "1.3.0" }]
})

const SPDX = JSON.stringify({
  spdxVersion: "SPDX-2.3",
  dataLicense: "CC0-1.0",
  SPDXID: "SPDXRef-DOCUMENT",
  name: "app",
  documentNamespace: "https://example.com/spdx/app-1.4.0",
  creationInfo: { created: "2026-01-01T00:00:00Z", creators: ["Tool: relpub-test"] },
  packages: [{ SPDXID: "SPDXRef-Package-app", name: "app", downloadLocation: "NOASSERTION" }]
})

interface Fixture {
  readonly root: string
  readonly dir: string
  readonly keys: string
  readonly keyFile: string
  readonly pair: KeyPair
}

const put = (dir: string, path: string, content: string | Uint8Array) => {
  fs.mkdirSync(join(dir, path, ".."), { recursive: true })
  fs.writeFileSync(join(dir, path), content)
}

// Artifacts in `<root>/dist`, a signing key, and a trusted-keys dir holding its public half.
const fixture = (pair: KeyPair = ed25519()) =>
  Effect.map(tempDir, (root): Fixture => {
    const dir = join(root, "dist")
    put(dir, "app.tar.gz", randomBytes(4096))
    put(dir, "docs/README.md", "read me\n")
    put(root, "keys/release.pem", pair.publicPem)
    put(root, "release.key", pair.privatePem)
    return { root, dir, keys: join(root, "keys"), keyFile: join(root, "release.key"), pair }
  })

const prepare = (f: Fixture, extra: Partial<PrepareRequest> = {}) =>
  prepareRelease({
    dir: f.dir,
    version: "v1.4.0",
    signingKey: { file: f.keyFile, pem: f.pair.privatePem },
    env: {},
    ...extra
  })

const verify = (f: Fixture, extra: Partial<VerifyRequest> = {}) =>
  verifyRelease({ dir: f.dir, trustedKeysDir: f.keys, ...extra })

const otherKeys = (f: Fixture) => {
  const other = ed25519()
  put(f.root, "other/other.pem", other.publicPem)
  const spki = other.publicKey.export({ type: "spki", format: "der" })
  return { dir: join(f.root, "other"), id: sha256(spki).slice(0, 16) }
}

// Rewrites manifest.json and SHA256SUMS for the files now in dir, dropping SHA256SUMS.sig.
const remanifest = (dir: string, version: string) => {
  const files = fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .filter((p) => !["manifest.json", "SHA256SUMS", "SHA256SUMS.sig"].includes(p))
    .map((path) => {
      const bytes = fs.readFileSync(join(dir, path))
      return { path, sha256: sha256(bytes), size: bytes.length }
    })
  fs.rmSync(join(dir, "SHA256SUMS.sig"), { force: true })
  fs.writeFileSync(join(dir, "manifest.json"), formatManifestJson(files, version))
  fs.writeFileSync(join(dir, "SHA256SUMS"), formatSha256Sums(files))
}

const failed = (o: { result: { findings: ReadonlyArray<{ ok: boolean; reason: string; file: string }> } }) =>
  o.result.findings.filter((x) => !x.ok).map((x) => `${x.file}:${x.reason}`)

layer(Live)("Verifier", (it) => {
  describe("#verifyRelease", () => {
    describe("when prepare signed the release with a key the trusted-keys dir holds", () => {
      for (const [name, make] of [["Ed25519", ed25519], ["ECDSA P-256", p256], ["RSA", rsa]] as const) {
        it.scoped(`returns passed and exit 0 with every check verified (${name})`, () =>
          Effect.gen(function*() {
            const f = yield* fixture(make())
            put(f.root, "bom.cdx.json", CYCLONEDX)
            const prepared = yield* prepare(f, { signFiles: true, sbomFile: join(f.root, "bom.cdx.json") })
            const o = yield* verify(f, { requireSignatures: true })
            assert.deepStrictEqual(failed(o), [])
            assert.strictEqual(o.exitCode, 0)
            const r = o.result
            assert.isTrue(r.passed && r.hash_verified && r.signature_verified && r.sbom_validated && r.slsa_validated)
            assert.strictEqual(r.exit_code, 0)
            assert.strictEqual(r.sbom_id, "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79")
            assert.strictEqual(r.slsa_id, prepared.provenance.build.invocationId)
            assert.strictEqual(r.provenance_hash, sha256(fs.readFileSync(join(f.dir, "dist.intoto.jsonl"))))
            const sigs = fs.readdirSync(f.dir, { recursive: true }).map(String).filter((p) => p.endsWith(".sig"))
            assert.deepStrictEqual(o.signatureFindings.map((s) => s.file).sort(), sigs.sort())
            assert.isTrue(o.signatureFindings.every((s) => s.ok))
            assert.isTrue(Either.isRight(Schema.decodeUnknownEither(VerificationResult)(JSON.parse(JSON.stringify(r)))))
          }))
      }

      it.scoped("returns SHA256SUMS.sig as covering every file SHA256SUMS lists", () =>
        Effect.gen(function*() {
          const f = yield* fixture()
          yield* prepare(f)
          const o = yield* verify(f, { requireSignatures: true })
          assert.deepStrictEqual(failed(o), [])
          assert.deepStrictEqual(o.signatureFindings.map((s) => s.file), ["SHA256SUMS.sig"])
        }))
    })

    describe("when the trusted-keys dir holds a different key", () => {
      it.scoped("fails with 30, naming the signature file and the key tried", () =>
        Effect.gen(function*() {
          const f = yield* fixture()
          yield* prepare(f)
          const other = otherKeys(f)
          const o = yield* verify(f, { trustedKeysDir: other.dir })
          assert.strictEqual(o.exitCode, 30)
          const first = o.failures[0]!
          assert.strictEqual(first.file, "SHA256SUMS.sig")
          assert.strictEqual(first.reason, "bad-signature")
          assert.strictEqual(first.key, other.id)
          assert.include(first.detail, other.id)
          assert.deepStrictEqual(o.signatureFindings.map((s) => [s.file, s.ok]), [["SHA256SUMS.sig", false]])
          assert.include(failed(o), "dist.intoto.jsonl:unknown-key")
        }))
    })

    describe("when no trusted keys are given", () => {
      it.scoped("fails with 30 under the strict policy, and passes with warnings under lenient", () =>
        Effect.gen(function*() {
          const f = yield* fixture()
          yield* prepare(f)
          const strict = yield* verify(f, { trustedKeysDir: undefined })
          assert.strictEqual(strict.exitCode, 30)
          assert.strictEqual(strict.failures[0]!.reason, "unknown-key")
          assert.strictEqual(strict.failures[0]!.severity, "policy")
          const lenient = yield* verify(f, { trustedKeysDir: undefined, policy: defaultPolicy("lenient") })
          assert.strictEqual(lenient.exitCode, 0)
          assert.isTrue(lenient.result.passed)
          assert.isFalse(lenient.result.signature_verified)
          assert.isNotEmpty(lenient.result.warnings)
        }))
    })

    describe("when an artifact changed after prepare", () => {
      it.scoped("fails with 30 digest-mismatch, whether its size changed or not", () =>
        Effect.gen(function*() {
          const f = yield* fixture()
          yield* prepare(f)
          const file = join(f.dir, "app.tar.gz")
          const bytes = fs.readFileSync(file)
          bytes[100] = bytes[100]! ^ 0xff
          fs.writeFileSync(file, bytes)
          const flipped = yield* verify(f)
          assert.strictEqual(flipped.exitCode, 30)
          assert.deepStrictEqual([flipped.failures[0]!.file, flipped.failures[0]!.reason],
            ["app.tar.gz", "digest-mismatch"])
          fs.appendFileSync(file, "x")
          const grown = yield* verify(f)
          assert.strictEqual(grown.exitCode, 30)
          assert.strictEqual(grown.failures[0]!.file, "app.tar.gz")
          assert.isFalse(grown.result.hash_verified)
        }))
    })

    describe("when signatures are required", () => {
      it.scoped("fails with 34 when the release has no signature", () =>
        Effect.gen(function*() {
          const f = yield* fixture()
          yield* prepare(f, { signingKey: undefined })
          const o = yield* verify(f, { requireSignatures: true })
          assert.strictEqual(o.exitCode, 34)
          assert.strictEqual(o.failures[0]!.reason, "unsigned")
          const relaxed = yield* verify(f)
          assert.strictEqual(relaxed.exitCode, 0)
        }))

      it.scoped("fails with 34 naming each artifact no valid signature covers", () =>
        Effect.gen(function*() {
          const f = yield* fixture()
          yield* prepare(f, { signFiles: true })
          fs.rmSync(join(f.dir, "SHA256SUMS.sig"))
          fs.rmSync(join(f.dir, "docs/README.md.sig"))
          remanifest(f.dir, "v1.4.0")
          const o = yield* verify(f, { requireSignatures: true })
          assert.strictEqual(o.exitCode, 34)
          assert.deepStrictEqual(failed(o), ["docs/README.md:unsigned"])
        }))
    })

    describe("when a .enc file is checked", () => {
      it.scoped("fails with 35 not-age when it is not an age file", () =>
        Effect.gen(function*() {
          const f = yield* fixture()
          put(f.dir, "secrets.tar.enc", randomBytes(256))
          yield* prepare(f)
          const o = yield* verify(f)
          assert.strictEqual(o.exitCode, 35)
          assert.deepStrictEqual(failed(o), ["secrets.tar.enc:not-age"])
        }))

      it.scoped(`returns valid for a file the age tool encrypted${missing("age", "age-keygen")}`, () =>
        Effect.gen(function*() {
          if (which("age") === undefined || which("age-keygen") === undefined) return
          const f = yield* fixture()
          const identity = join(f.root, "age.key")
          yield* run("age-keygen", ["-o", identity])
          const recipient = (yield* run("age-keygen", ["-y", identity])).toString().trim()
          put(f.root, "plain.tar", randomBytes(100_000))
          yield* run("age", ["-r", recipient, "-o", join(f.dir, "secrets.tar.enc"), join(f.root, "plain.tar")])
          yield* run("age", ["-a", "-r", recipient, "-o", join(f.dir, "notes.txt.enc"), join(f.root, "plain.tar")])
          yield* prepare(f)
          const o = yield* verify(f, { policy: { ...defaultPolicy("strict"), requireEncryption: true } })
          assert.deepStrictEqual(failed(o), [])
          const enc = o.result.findings.filter((x) => x.check === "encryption")
          assert.deepStrictEqual(enc.map((x) => [x.file, x.ok]), [["notes.txt.enc", true], ["secrets.tar.enc", true]])
        }))

      it.scoped("fails with 35 when encryption is required and no .enc file is present", () =>
        Effect.gen(function*() {
          const f = yield* fixture()
          yield* prepare(f)
          const o = yield* verify(f, { policy: { ...defaultPolicy("strict"), requireEncryption: true } })
          assert.strictEqual(o.exitCode, 35)
        }))
    })

    describe("when the release carries an SBOM", () => {
      it.scoped("fails with 33 schema-invalid for an invalid CycloneDX document", () =>
        Effect.gen(function*() {
          const f = yield* fixture()
          put(f.dir, "sbom.cdx.json", JSON.stringify({ ...JSON.parse(CYCLONEDX), version: "one" }))
          yield* prepare(f)
          const o = yield* verify(f)
          assert.strictEqual(o.exitCode, 33)
          assert.deepStrictEqual(failed(o), ["sbom.cdx.json:schema-invalid"])
          assert.isFalse(o.result.sbom_validated)
        }))

      it.scoped("returns the SPDX document namespace as sbom_id for valid SPDX 2.3", () =>
        Effect.gen(function*() {
          const f = yield* fixture()
          put(f.dir, "app.spdx.json", SPDX)
          yield* prepare(f)
          const o = yield* verify(f)
          assert.deepStrictEqual(failed(o), [])
          assert.include(o.result.sbom_id, "https://example.com/spdx/app-1.4.0")
        }))
    })

    describe("when the provenance does not match the release", () => {
      it.scoped("fails with 30 subject-missing for an artifact added after prepare", () =>
        Effect.gen(function*() {
          const f = yield* fixture()
          yield* prepare(f)
          put(f.dir, "late.bin", "added later\n")
          remanifest(f.dir, "v1.4.0")
          const o = yield* verify(f)
          assert.strictEqual(o.exitCode, 30)
          assert.deepStrictEqual(failed(o), ["dist.intoto.jsonl:subject-missing"])
          assert.include(o.failures[0]!.detail, "late.bin")
        }))

      it.scoped("fails with 30 when the builder or source is not the expected one", () =>
        Effect.gen(function*() {
          const f = yield* fixture()
          yield* prepare(f, {
            builderId: "https://ci.example.com/builder",
            sourceRepository: "https://github.com/acme/app"
          })
          const ok = yield* verify(f, {
            expectedBuilderId: "https://ci.example.com/builder",
            expectedSourceRepository: "github.com/acme/app"
          })
          assert.strictEqual(ok.exitCode, 0)
          const bad = yield* verify(f, {
            expectedBuilderId: "https://evil.example.com/builder",
            expectedSourceRepository: "github.com/evil/app"
          })
          assert.strictEqual(bad.exitCode, 30)
          assert.deepStrictEqual(failed(bad), ["app.intoto.jsonl:builder-mismatch", "app.intoto.jsonl:source-mismatch"])
        }))
    })

    describe("when an artifact has a detached OpenPGP signature", () => {
      it.scoped("returns valid for a trusted key and fails with 30 for an unknown one", () =>
        Effect.gen(function*() {
          const f = yield* fixture()
          const gen = (name: string) =>
            Effect.promise(() =>
              openpgp.generateKey({ type: "ecc", curve: "curve25519Legacy", userIDs: [{ name }], format: "object" })
            )
          const trusted = yield* gen("release")
          const stranger = yield* gen("stranger")
          const sign = (key: openpgp.PrivateKey, file: string) =>
            Effect.promise(async () => {
              const message = await openpgp.createMessage({ binary: fs.readFileSync(join(f.dir, file)) })
              return openpgp.sign({ message, signingKeys: key, detached: true })
            })
          put(f.keys, "release.asc", trusted.publicKey.armor())
          put(f.dir, "app.tar.gz.asc", yield* sign(trusted.privateKey, "app.tar.gz"))
          yield* prepare(f)
          const ok = yield* verify(f)
          assert.deepStrictEqual(failed(ok), [])
          const asc = ok.result.findings.find((x) => x.file === "app.tar.gz.asc")!
          assert.strictEqual(asc.key, trusted.publicKey.getFingerprint().toUpperCase())

          put(f.dir, "docs/README.md.asc", yield* sign(stranger.privateKey, "docs/README.md"))
          remanifest(f.dir, "v1.4.0")
          const bad = yield* verify(f)
          assert.strictEqual(bad.exitCode, 30)
          assert.include(failed(bad), "docs/README.md.asc:unknown-key")
        }))
    })

    describe("when the manifest is for another version", () => {
      it.scoped("fails with 33 only when a version is expected", () =>
        Effect.gen(function*() {
          const f = yield* fixture()
          yield* prepare(f)
          assert.strictEqual((yield* verify(f)).exitCode, 0)
          assert.strictEqual((yield* verify(f, { version: "1.4.0" })).exitCode, 0)
          const other = yield* verify(f, { version: "v2.0.0" })
          assert.strictEqual(other.exitCode, 33)
        }))
    })
  })

  describe("Verifier layer", () => {
    it.scoped("verifies as verifyRelease does", () =>
      Effect.gen(function*() {
        const f = yield* fixture()
        yield* prepare(f)
        const verifier = yield* Effect.provide(Verifier, verifierLayer)
        const o = yield* verifier.verify({ dir: f.dir, trustedKeysDir: f.keys })
        assert.strictEqual(o.exitCode, 0)
      }))
  })
})

layer(Live)("Prepare", (it) => {
  describe("#prepareRelease", () => {
    it.scoped("lists every file but manifest.json, SHA256SUMS and SHA256SUMS.sig, in both manifests", () =>
      Effect.gen(function*() {
        const f = yield* fixture()
        put(f.root, "sbom.cdx.json", CYCLONEDX)
        const o = yield* prepare(f, { signFiles: true, sbomFile: join(f.root, "sbom.cdx.json") })
        const onDisk = fs.readdirSync(f.dir, { recursive: true, withFileTypes: true })
          .filter((e) => e.isFile())
          .map((e) => join(e.parentPath, e.name).slice(f.dir.length + 1))
          .filter((p) => !["manifest.json", "SHA256SUMS", "SHA256SUMS.sig"].includes(p))
          .sort()
        const manifest = Either.getOrThrow(parseManifestJson(fs.readFileSync(join(f.dir, "manifest.json"), "utf8")))
        const sums = Either.getOrThrow(parseSha256Sums(fs.readFileSync(join(f.dir, "SHA256SUMS"), "utf8")))
        assert.deepStrictEqual(manifest.entries.map((e) => e.path).sort(), onDisk)
        assert.deepStrictEqual(sums.entries.map((e) => [e.path, e.sha256]),
          manifest.entries.map((e) => [e.path, e.sha256]))
        assert.strictEqual(manifest.version, "v1.4.0")
        assert.includeMembers(onDisk,
          ["app.tar.gz.sig", "docs/README.md.sig", "sbom.cdx.json", "dist.intoto.jsonl.sig"])
        assert.deepStrictEqual(o.written.slice(-3), ["manifest.json", "SHA256SUMS", "SHA256SUMS.sig"])
        if (which("sha256sum") !== undefined) yield* run("sha256sum", ["-c", "--strict", "SHA256SUMS"], { cwd: f.dir })
      }))

    it.scoped("writes one DSSE envelope line whose subjects are exactly the artifacts", () =>
      Effect.gen(function*() {
        const f = yield* fixture(p256())
        const o = yield* prepare(f, { signFiles: true, name: "app" })
        const lines = fs.readFileSync(join(f.dir, "app.intoto.jsonl"), "utf8").split("\n")
        assert.deepStrictEqual(lines.slice(1), [""])
        const envelope = yield* parseEnvelope(lines[0]!)
        const keys = yield* rawKeysFromPem("release.pem", f.pair.publicPem)
        assert.isTrue((yield* verifyEnvelope("app.intoto.jsonl", envelope, keys)).ok)
        const statement = JSON.parse(Buffer.from(envelope.payload, "base64").toString("utf8"))
        assert.strictEqual(statement._type, "https://in-toto.io/Statement/v1")
        assert.strictEqual(statement.predicateType, "https://slsa.dev/provenance/v1")
        assert.deepStrictEqual(statement.subject.map((s: { name: string }) => s.name), ["app.tar.gz", "docs/README.md"])
        assert.strictEqual(statement.subject[0].digest.sha256, sha256(fs.readFileSync(join(f.dir, "app.tar.gz"))))
        assert.strictEqual(o.provenance.subjects, 2)
      }))

    it.scoped("refuses to overwrite an existing manifest unless forced", () =>
      Effect.gen(function*() {
        const f = yield* fixture()
        yield* prepare(f)
        const before = fs.readFileSync(join(f.dir, "manifest.json"), "utf8")
        const again = yield* Effect.flip(prepare(f))
        assert.strictEqual(again._tag, "UsageError")
        assert.include(again.message, "manifest.json")
        assert.strictEqual(fs.readFileSync(join(f.dir, "manifest.json"), "utf8"), before)
        put(f.dir, "extra.bin", "more\n")
        const forced = yield* prepare(f, { force: true })
        assert.include(forced.files.map((x) => x.path), "extra.bin")
        assert.strictEqual((yield* verify(f)).exitCode, 0)
      }))

    it.scoped("refuses an invalid --sbom with exit 33 and writes nothing", () =>
      Effect.gen(function*() {
        const f = yield* fixture()
        put(f.root, "bad.cdx.json", JSON.stringify({ bomFormat: "CycloneDX", specVersion: "1.6", version: -1 }))
        const e = yield* Effect.flip(prepare(f, { sbomFile: join(f.root, "bad.cdx.json") }))
        assert.strictEqual(e._tag, "PolicyRejected")
        assert.strictEqual(e._tag === "PolicyRejected" ? e.exitCode : 0, 33)
        assert.deepStrictEqual(fs.readdirSync(f.dir).sort(), ["app.tar.gz", "docs"])
      }))

    it.scoped("refuses --sign-files without a key, and a symbolic link in the directory", () =>
      Effect.gen(function*() {
        const f = yield* fixture()
        const noKey = yield* Effect.flip(prepare(f, { signingKey: undefined, signFiles: true }))
        assert.strictEqual(noKey._tag, "UsageError")
        fs.symlinkSync("/etc/passwd", join(f.dir, "passwd"))
        const link = yield* Effect.flip(prepare(f))
        assert.strictEqual(link._tag === "PolicyRejected" ? link.exitCode : 0, 33)
        assert.isFalse(fs.existsSync(join(f.dir, "manifest.json")))
      }))
  })
})

describe("buildContext", () => {
  const github = {
    GITHUB_ACTIONS: "true",
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_REPOSITORY: "acme/app",
    GITHUB_RUN_ID: "42",
    GITHUB_RUN_ATTEMPT: "2",
    GITHUB_WORKFLOW_REF: "acme/app/.github/workflows/release.yml@refs/tags/v1.4.0",
    GITHUB_SHA: "0123456789abcdef0123456789abcdef01234567"
  }
  const gitlab = {
    GITLAB_CI: "true",
    CI_SERVER_URL: "https://gitlab.example.com",
    CI_PROJECT_PATH: "acme/app",
    CI_PIPELINE_ID: "7",
    CI_JOB_ID: "99",
    CI_COMMIT_SHA: "89abcdef0123456789abcdef0123456789abcdef"
  }

  describe("when run by GitHub Actions", () => {
    it("returns the workflow as builder, the run attempt as invocation and the commit as source", () => {
      const c = buildContext(github, {})
      assert.strictEqual(c.ci, "github-actions")
      assert.strictEqual(c.builderId, "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.4.0")
      assert.strictEqual(c.invocationId, "https://github.com/acme/app/actions/runs/42/attempts/2")
      assert.deepStrictEqual(c.externalParameters, {
        workflow: {
          ref: "refs/tags/v1.4.0",
          repository: "https://github.com/acme/app",
          path: ".github/workflows/release.yml"
        }
      })
      assert.deepStrictEqual(c.source, {
        uri: "git+https://github.com/acme/app@refs/tags/v1.4.0",
        digest: { gitCommit: github.GITHUB_SHA }
      })
    })
  })

  describe("when run by GitLab CI", () => {
    it("returns the project, job and commit", () => {
      const c = buildContext(gitlab, {})
      assert.strictEqual(c.ci, "gitlab-ci")
      assert.strictEqual(c.builderId, "https://gitlab.example.com/acme/app")
      assert.strictEqual(c.invocationId, "https://gitlab.example.com/acme/app/-/jobs/99")
      assert.deepStrictEqual(c.source, {
        uri: "git+https://gitlab.example.com/acme/app",
        digest: { gitCommit: gitlab.CI_COMMIT_SHA }
      })
      assert.deepStrictEqual(c.internalParameters, { gitlab: { pipeline_id: "7", job_id: "99" } })
    })
  })

  describe("when flags are given", () => {
    it("returns the flags over the environment, and a local builder outside CI", () => {
      const c = buildContext(github, { builderId: "b", invocationId: "i", sourceRepository: "https://example.com/r" })
      assert.deepStrictEqual([c.builderId, c.invocationId, c.source], ["b", "i", { uri: "https://example.com/r" }])
      const local = buildContext({}, {})
      assert.strictEqual(local.ci, "local")
      assert.strictEqual(local.builderId, "urn:relpub:builder:local")
      assert.match(local.invocationId, /^urn:uuid:[0-9a-f-]{36}$/)
      assert.isUndefined(local.source)
    })
  })
})
