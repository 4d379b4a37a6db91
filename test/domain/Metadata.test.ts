import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { provenanceStatement, sbomId, slsaId } from "../../src/domain/Metadata.ts"

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64")
const SLSA_V1 = "https://slsa.dev/provenance/v1"
const SLSA_V02 = "https://slsa.dev/provenance/v0.2"

const statement = (predicateType: string, predicate: unknown) => ({
  _type: "https://in-toto.io/Statement/v1",
  subject: [{ name: "app.tgz", digest: { sha256: "a".repeat(64) } }],
  predicateType,
  predicate
})
const dsse = (value: unknown) => ({
  payloadType: "application/vnd.in-toto+json",
  payload: b64(value),
  signatures: []
})
const bundle = (value: unknown) => ({
  mediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
  dsseEnvelope: dsse(value)
})

// The three ways a statement arrives: plain JSON, a DSSE envelope, a Sigstore bundle.
const wrappings: ReadonlyArray<readonly [string, (value: unknown) => string]> = [
  ["plain JSON", (v) => JSON.stringify(v, null, 2)],
  ["a DSSE envelope", (v) => JSON.stringify(dsse(v))],
  ["a Sigstore bundle", (v) => JSON.stringify(bundle(v))],
  ["JSON Lines", (v) => `\n${JSON.stringify(dsse(v))}\n${JSON.stringify(dsse({ other: true }))}\n`]
]

describe("Metadata", () => {
  describe("#sbomId", () => {
    describe("when the SBOM is CycloneDX", () => {
      it("returns the serial number", () => {
        const doc = { bomFormat: "CycloneDX", serialNumber: "urn:uuid:1", specVersion: "1.5" }
        const text = JSON.stringify(doc)
        assert.strictEqual(sbomId(text), "urn:uuid:1")
      })
    })

    describe("when the SBOM is SPDX", () => {
      it("returns the document namespace, else the SPDXID", () => {
        const doc = { spdxVersion: "SPDX-2.3", SPDXID: "SPDXRef-DOCUMENT" }
        const id = (value: unknown) => sbomId(JSON.stringify(value))
        assert.strictEqual(id({ ...doc, documentNamespace: "https://x/ns" }), "https://x/ns")
        assert.strictEqual(id(doc), "SPDXRef-DOCUMENT")
        assert.strictEqual(id({ ...doc, documentNamespace: "" }), "SPDXRef-DOCUMENT")
      })
    })

    describe("when the text has no usable id", () => {
      it("returns undefined", () => {
        const texts = ["", "not json", "[]", "null", "\"urn\"", "{}", "{\"serialNumber\": 5}"]
        for (const text of [...texts, "{\"serialNumber\": \"\"}"]) {
          assert.strictEqual(sbomId(text), undefined, text)
        }
      })
    })

    const texts = fc.oneof(fc.string(), fc.json())
    it.prop("returns a string or undefined for arbitrary text", [texts], ([text]) => {
      const id = sbomId(text)
      assert.isTrue(id === undefined || (typeof id === "string" && id.length > 0))
    }, { fastCheck: { numRuns: 200 } })
  })

  describe("#provenanceStatement", () => {
    const s = statement(SLSA_V1, { buildDefinition: {} })
    for (const [name, wrap] of wrappings) {
      describe(`when the statement comes as ${name}`, () => {
        it("returns the statement", () => {
          assert.deepStrictEqual(provenanceStatement(wrap(s)), s)
        })
      })
    }

    describe("when the payload is not JSON", () => {
      it("returns undefined", () => {
        const env = { payloadType: "text/plain", payload: Buffer.from("hello").toString("base64") }
        assert.strictEqual(provenanceStatement(JSON.stringify(env)), undefined)
        const empty = { dsseEnvelope: { payloadType: "x" } }
        assert.strictEqual(provenanceStatement(JSON.stringify(empty)), undefined)
      })
    })

    describe("when the text is not JSON or not an object", () => {
      it("returns undefined", () => {
        for (const text of ["", "   ", "garbage", "[1]", "42", "\n\nnull\n"]) {
          assert.strictEqual(provenanceStatement(text), undefined, JSON.stringify(text))
        }
      })
    })
  })

  describe("#slsaId", () => {
    describe("when SLSA v1 provenance names its invocation", () => {
      it("returns the invocation id", () => {
        const s = statement(SLSA_V1, {
          runDetails: { builder: { id: "https://ci/b" }, metadata: { invocationId: "run-42" } }
        })
        for (const [name, wrap] of wrappings) assert.strictEqual(slsaId(wrap(s)), "run-42", name)
      })
    })

    describe("when SLSA v0.2 provenance names its invocation", () => {
      it("returns the build invocation id", () => {
        const predicate = { builder: { id: "b" }, metadata: { buildInvocationId: "inv-7" } }
        const s = statement(SLSA_V02, predicate)
        assert.strictEqual(slsaId(JSON.stringify(s)), "inv-7")
      })
    })

    describe("when no invocation id is given", () => {
      it("returns the predicate type and builder id", () => {
        const v1 = statement(SLSA_V1, {
          runDetails: { builder: { id: "https://ci/b" }, metadata: {} }
        })
        const v02 = statement(SLSA_V02, { builder: { id: "https://ci/old" } })
        assert.strictEqual(slsaId(JSON.stringify(v1)), `${SLSA_V1}#https://ci/b`)
        assert.strictEqual(slsaId(JSON.stringify(v02)), `${SLSA_V02}#https://ci/old`)
      })
    })

    describe("when only the predicate type is known", () => {
      it("returns the predicate type", () => {
        assert.strictEqual(slsaId(JSON.stringify(statement(SLSA_V1, {}))), SLSA_V1)
        assert.strictEqual(slsaId(JSON.stringify(statement(SLSA_V1, null))), SLSA_V1)
      })
    })

    describe("when nothing identifies the build", () => {
      it("returns undefined", () => {
        const typeless = JSON.stringify({ predicate: { builder: { id: "b" } } })
        for (const text of ["", "{}", typeless, "[]"]) {
          assert.strictEqual(slsaId(text), undefined, text)
        }
      })
    })

    it.prop("returns the same id however the statement is wrapped", [
      fc.option(fc.string({ minLength: 1 }), { nil: undefined }),
      fc.option(fc.string({ minLength: 1 }), { nil: undefined }),
      fc.option(fc.string({ minLength: 1 }), { nil: undefined })
    ], ([invocation, builder, type]) => {
      const s = {
        predicateType: type,
        predicate: {
          runDetails: { builder: { id: builder }, metadata: { invocationId: invocation } }
        }
      }
      const byType = type === undefined
        ? undefined
        : builder === undefined ? type : `${type}#${builder}`
      const want = invocation ?? byType
      for (const [, wrap] of wrappings) assert.strictEqual(slsaId(wrap(s)), want)
    }, { fastCheck: { numRuns: 100 } })

    it.prop("returns a string or undefined for arbitrary text", [fc.oneof(
      fc.string({ unit: "binary" }),
      fc.json(),
      fc.json().map((j) =>
        JSON.stringify({ payloadType: "x", payload: Buffer.from(j).toString("base64") })
      ),
      fc.string().map((p) => JSON.stringify({ dsseEnvelope: { payload: p } }))
    )], ([text]) => {
      const id = slsaId(text)
      assert.isTrue(id === undefined || typeof id === "string")
    }, { fastCheck: { numRuns: 200 } })
  })
})
