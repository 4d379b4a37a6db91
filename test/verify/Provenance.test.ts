import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { createHash } from "node:crypto"
import { IN_TOTO_PAYLOAD_TYPE, signEnvelope } from "../../src/verify/Dsse.ts"
import { parseProvenance, sameRepository, verifyProvenance } from "../../src/verify/Provenance.ts"
import { loadSigningKey } from "../../src/verify/RawSignature.ts"
import {
  encodeStatement,
  makeStatement,
  SLSA_PROVENANCE_V02,
  STATEMENT_V01
} from "../../src/verify/Statement.ts"
import { rawKeysFromPem } from "../../src/verify/TrustedKeys.ts"
import { bytes, ed25519 } from "./helpers.ts"

const sha = (s: string) => createHash("sha256").update(s).digest("hex")
const artifacts = [
  { path: "widget-1.0.tgz", sha256: sha("tgz") },
  { path: "widget-1.0.zip", sha256: sha("zip") }
]
const BUILDER = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/" +
  "generator_generic_slsa3.yml@refs/tags/v2.0.0"

const statement = makeStatement({
  subjects: [
    { name: "widget-1.0.tgz", sha256: artifacts[0]!.sha256 },
    { name: "widget-1.0.zip", sha256: artifacts[1]!.sha256 }
  ],
  builderId: BUILDER,
  buildType: "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
  externalParameters: {
    workflow: { ref: "refs/tags/v1.0", repository: "https://github.com/acme/widget" }
  },
  invocationId: "https://github.com/acme/widget/actions/runs/1/attempts/1",
  startedOn: new Date("2026-01-02T03:04:05Z")
})

const v02 = {
  _type: STATEMENT_V01,
  subject: [{ name: "widget-1.0.tgz", digest: { sha256: artifacts[0]!.sha256 } }],
  predicateType: SLSA_PROVENANCE_V02,
  predicate: {
    builder: { id: BUILDER },
    buildType: "https://github.com/slsa-framework/slsa-github-generator/generic@v1",
    invocation: { configSource: { uri: "git+https://github.com/acme/widget@refs/heads/main" } },
    metadata: { buildInvocationId: "4242-1" },
    materials: [{ uri: "git+https://github.com/acme/widget@refs/heads/main" }]
  }
}

const setup = Effect.gen(function*() {
  const kp = ed25519()
  const key = yield* Effect.orDie(loadSigningKey(kp.privatePem))
  const keys = yield* Effect.orDie(rawKeysFromPem("prov.pem", kp.publicPem))
  const envelope = (payload: Uint8Array) => signEnvelope(IN_TOTO_PAYLOAD_TYPE, payload, key)
  return { keys, envelope }
})

const reasons = (r: { findings: ReadonlyArray<{ reason: string }> }) =>
  r.findings.map((f) => f.reason)

describe("Provenance", () => {
  describe("#verifyProvenance", () => {
    describe("when given a DSSE envelope with SLSA v1 provenance", () => {
      it.effect("returns valid findings, the invocation id and the file hash", () =>
        Effect.gen(function*() {
          const { envelope, keys } = yield* setup
          const file = bytes(JSON.stringify(envelope(encodeStatement(statement))))
          const r = yield* verifyProvenance("p.intoto.json", file, {
            keys,
            artifacts,
            expectedBuilderId: BUILDER,
            expectedSourceRepository: "github.com/acme/widget"
          })
          assert.deepStrictEqual(reasons(r), ["valid", "valid"])
          const run = "https://github.com/acme/widget/actions/runs/1/attempts/1"
          assert.deepStrictEqual(r.slsaId, Option.some(run))
          assert.strictEqual(r.provenanceHash, createHash("sha256").update(file).digest("hex"))
        }))

      it.effect("fails with subject-missing for an artifact that is not a subject", () =>
        Effect.gen(function*() {
          const { envelope, keys } = yield* setup
          const file = bytes(JSON.stringify(envelope(encodeStatement(statement))))
          const extra = [...artifacts, { path: "widget.exe", sha256: sha("exe") }]
          const r = yield* verifyProvenance("p", file, { keys, artifacts: extra })
          assert.deepStrictEqual(reasons(r), ["valid", "subject-missing"])
          assert.include(r.findings[1]!.detail, "widget.exe")
        }))

      it.effect("fails with builder-mismatch and source-mismatch for other expectations", () =>
        Effect.gen(function*() {
          const { envelope, keys } = yield* setup
          const file = bytes(JSON.stringify(envelope(encodeStatement(statement))))
          const r = yield* verifyProvenance("p", file, {
            keys,
            artifacts,
            expectedBuilderId: "https://example.com/other-builder",
            expectedSourceRepository: "acme/gadget"
          })
          assert.deepStrictEqual(reasons(r), ["valid", "builder-mismatch", "source-mismatch"])
        }))

      it.effect("fails with unknown-key and counts no subject for an untrusted signer", () =>
        Effect.gen(function*() {
          const { envelope } = yield* setup
          const other = yield* setup
          const file = bytes(JSON.stringify(envelope(encodeStatement(statement))))
          const r = yield* verifyProvenance("p", file, { keys: other.keys, artifacts })
          assert.deepStrictEqual(reasons(r), ["unknown-key", "subject-missing", "subject-missing"])
        }))
    })

    describe("when given a Sigstore bundle that carries the DSSE envelope", () => {
      it.effect("reads the envelope from the bundle", () =>
        Effect.gen(function*() {
          const { envelope, keys } = yield* setup
          const bundle = {
            mediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
            verificationMaterial: { publicKey: { hint: keys[0]!.id }, tlogEntries: [] },
            dsseEnvelope: envelope(encodeStatement(statement))
          }
          const file = bytes(JSON.stringify(bundle))
          const r = yield* verifyProvenance("p.sigstore.json", file, { keys, artifacts })
          assert.deepStrictEqual(reasons(r), ["valid", "valid"])
        }))
    })

    describe("when given .intoto.jsonl with a v0.1 statement and SLSA v0.2", () => {
      it.effect("reads every line and takes metadata.buildInvocationId as the slsa id", () =>
        Effect.gen(function*() {
          const { envelope, keys } = yield* setup
          const lines = [envelope(bytes(JSON.stringify(v02))), envelope(encodeStatement(statement))]
          const file = bytes(lines.map((l) => JSON.stringify(l)).join("\n") + "\n")
          const entries = yield* parseProvenance(file)
          assert.strictEqual(entries.length, 2)
          const r = yield* verifyProvenance("p.intoto.jsonl", file, {
            keys,
            artifacts,
            expectedSourceRepository: "https://github.com/acme/widget.git"
          })
          assert.deepStrictEqual(reasons(r), ["valid", "valid", "valid"])
          assert.deepStrictEqual(r.slsaId, Option.some("4242-1"))
        }))
    })

    describe("when given a plain statement", () => {
      it.effect("needs no signature unless required, then fails with unsigned", () =>
        Effect.gen(function*() {
          const noId = { ...v02, predicate: { ...v02.predicate, metadata: {} } }
          const file = bytes(JSON.stringify(noId))
          const artifactsV02 = [artifacts[0]!]
          const r = yield* verifyProvenance("p.json", file, { keys: [], artifacts: artifactsV02 })
          assert.deepStrictEqual(reasons(r), ["valid"])
          assert.deepStrictEqual(r.slsaId, Option.some(`${SLSA_PROVENANCE_V02}#${BUILDER}`))
          const strict = yield* verifyProvenance("p.json", file, {
            keys: [],
            artifacts: artifactsV02,
            requireSignature: true
          })
          assert.deepStrictEqual(reasons(strict), ["unsigned", "subject-missing"])
        }))

      it.effect("fails with unsupported-format for a predicate that is not SLSA provenance", () =>
        Effect.gen(function*() {
          const other = { ...v02, predicateType: "https://spdx.dev/Document" }
          const file = bytes(JSON.stringify(other))
          const r = yield* verifyProvenance("p.json", file, { keys: [], artifacts })
          assert.deepStrictEqual(reasons(r), ["unsupported-format"])
          assert.isTrue(Option.isNone(r.slsaId))
        }))

      it.effect("fails with schema-invalid for a SLSA predicate without a builder", () =>
        Effect.gen(function*() {
          const broken = { ...v02, predicate: { buildType: "x" } }
          const file = bytes(JSON.stringify(broken))
          const r = yield* verifyProvenance("p.json", file, { keys: [], artifacts })
          assert.include(reasons(r), "schema-invalid")
        }))

      it.effect("fails with malformed for text that is not JSON", () =>
        Effect.gen(function*() {
          const r = yield* verifyProvenance("p.json", bytes("{not json"), { keys: [], artifacts })
          assert.deepStrictEqual(reasons(r), ["malformed"])
        }))
    })
  })

  describe("#sameRepository", () => {
    it("matches the spellings of one repository and nothing else", () => {
      const expected = "https://github.com/acme/widget"
      for (const uri of [
        "git+https://github.com/acme/widget@refs/heads/main",
        "https://github.com/acme/widget.git",
        "git@github.com:acme/widget.git",
        "https://GitHub.com/acme/widget/"
      ]) assert.isTrue(sameRepository(uri, expected), uri)
      assert.isTrue(sameRepository("https://github.com/acme/widget", "acme/widget"))
      assert.isFalse(sameRepository("https://github.com/acme/widget-fork", expected))
      const nested = "https://github.com/evil/acme/widget"
      assert.isFalse(sameRepository(nested, "github.com/acme/widget"))
      assert.isFalse(sameRepository(nested, "acme/widget"))
    })
  })
})
