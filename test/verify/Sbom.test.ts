import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { validateSbom } from "../../src/verify/Sbom.ts"
import { bytes } from "./helpers.ts"

const SERIAL = "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79"

const cyclonedx = (specVersion: string, extra: Record<string, unknown> = {}) => ({
  bomFormat: "CycloneDX",
  specVersion,
  serialNumber: SERIAL,
  version: 1,
  metadata: {
    timestamp: "2026-01-02T03:04:05Z",
    component: { type: "application", name: "widget", version: "1.0.0", "bom-ref": "widget" }
  },
  components: [{
    type: "library",
    name: "left-pad",
    version: "1.3.0",
    purl: "pkg:npm/left-pad@1.3.0",
    "bom-ref": "pkg:npm/left-pad@1.3.0",
    hashes: [{ alg: "SHA-256", content: "a".repeat(64) }]
  }],
  dependencies: [{ ref: "widget", dependsOn: ["pkg:npm/left-pad@1.3.0"] }],
  ...extra
})

const NS = "https://example.com/spdxdocs/widget-1.0.0-7c2f0e39"
const relationship = (from: string, relationshipType: string, to: string) =>
  ({ spdxElementId: from, relationshipType, relatedSpdxElement: to })

const spdx = (extra: Record<string, unknown> = {}) => ({
  spdxVersion: "SPDX-2.3",
  dataLicense: "CC0-1.0",
  SPDXID: "SPDXRef-DOCUMENT",
  name: "widget-1.0.0",
  documentNamespace: NS,
  creationInfo: {
    created: "2026-01-02T03:04:05Z",
    creators: ["Tool: relpub-0.1.0", "Organization: Acme"]
  },
  packages: [{
    SPDXID: "SPDXRef-Package-widget",
    name: "widget",
    versionInfo: "1.0.0",
    downloadLocation: "NOASSERTION",
    filesAnalyzed: false,
    checksums: [{ algorithm: "SHA256", checksumValue: "b".repeat(64) }],
    licenseConcluded: "Apache-2.0"
  }],
  files: [{
    SPDXID: "SPDXRef-File-readme",
    fileName: "./README.md",
    checksums: [{ algorithm: "SHA1", checksumValue: "c".repeat(40) }]
  }],
  relationships: [
    relationship("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Package-widget"),
    relationship("SPDXRef-Package-widget", "CONTAINS", "SPDXRef-File-readme")
  ],
  ...extra
})

const check = (doc: unknown) => validateSbom("bom.json", bytes(JSON.stringify(doc)))

describe("Sbom", () => {
  describe("#validateSbom", () => {
    describe("when given CycloneDX JSON", () => {
      for (const v of ["1.4", "1.5", "1.6"]) {
        it.effect(`returns valid and the serial number for a valid ${v} document`, () =>
          Effect.gen(function*() {
            const r = yield* check(cyclonedx(v))
            assert.strictEqual(r.finding.reason, "valid", r.finding.detail)
            assert.deepStrictEqual(r.sbomId, Option.some(SERIAL))
            assert.deepStrictEqual(r.specVersion, Option.some(v))
          }))
      }

      it.effect("fails with schema-invalid for a component without a type", () =>
        Effect.gen(function*() {
          const r = yield* check(cyclonedx("1.6", { components: [{ name: "x" }] }))
          assert.strictEqual(r.finding.reason, "schema-invalid")
          assert.include(r.finding.detail, "type")
        }))

      it.effect("fails with schema-invalid for a property the strict schema does not allow", () =>
        Effect.gen(function*() {
          const r = yield* check(cyclonedx("1.5", { vendorExtension: true }))
          assert.strictEqual(r.finding.reason, "schema-invalid")
        }))

      it.effect("fails with unsupported-format for spec version 1.2", () =>
        Effect.gen(function*() {
          const r = yield* check(cyclonedx("1.2"))
          assert.strictEqual(r.finding.reason, "unsupported-format")
        }))
    })

    describe("when given SPDX JSON", () => {
      it.effect("returns valid and documentNamespace#SPDXID for a valid 2.3 document", () =>
        Effect.gen(function*() {
          const r = yield* check(spdx())
          assert.strictEqual(r.finding.reason, "valid", r.finding.detail)
          assert.deepStrictEqual(r.sbomId, Option.some(`${NS}#SPDXRef-DOCUMENT`))
          assert.deepStrictEqual(r.format, Option.some("spdx"))
        }))

      const broken: ReadonlyArray<readonly [string, Record<string, unknown>]> = [
        ["no documentNamespace", { documentNamespace: undefined }],
        ["a namespace with a # part", { documentNamespace: `${NS}#x` }],
        ["another data licence", { dataLicense: "MIT" }],
        ["no creators", { creationInfo: { created: "2026-01-02T03:04:05Z", creators: [] } }],
        ["a creation time that is not UTC", {
          creationInfo: { created: "2026-01-02", creators: ["Tool: x"] }
        }],
        ["a package without downloadLocation", { packages: [{ SPDXID: "SPDXRef-p", name: "p" }] }],
        ["a file without a SHA1 checksum", {
          files: [{ SPDXID: "SPDXRef-File-readme", fileName: "f", checksums: [] }]
        }],
        ["a relationship to an unknown element", {
          relationships: [relationship("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-nowhere")]
        }],
        ["two elements with one SPDXID", {
          files: [{ SPDXID: "SPDXRef-Package-widget", fileName: "f",
            checksums: [{ algorithm: "SHA1", checksumValue: "c".repeat(40) }] }]
        }]
      ]
      for (const [what, change] of broken) {
        it.effect(`fails with schema-invalid for ${what}`, () =>
          Effect.gen(function*() {
            const r = yield* check(spdx(change))
            assert.strictEqual(r.finding.reason, "schema-invalid")
            assert.isFalse(r.finding.ok)
          }))
      }

      it.effect("fails with unsupported-format for SPDX 2.2", () =>
        Effect.gen(function*() {
          const r = yield* check(spdx({ spdxVersion: "SPDX-2.2" }))
          assert.strictEqual(r.finding.reason, "unsupported-format")
        }))
    })

    describe("when given something else", () => {
      it.effect("fails with malformed for text that is not JSON", () =>
        Effect.gen(function*() {
          const r = yield* validateSbom("bom.json", bytes("{"))
          assert.strictEqual(r.finding.reason, "malformed")
        }))

      it.effect("fails with unsupported-format for XML and for JSON of another kind", () =>
        Effect.gen(function*() {
          const xml = yield* validateSbom("bom.xml", bytes("<?xml version=\"1.0\"?><bom/>"))
          assert.strictEqual(xml.finding.reason, "unsupported-format")
          const other = yield* check({ hello: "world" })
          assert.strictEqual(other.finding.reason, "unsupported-format")
          assert.isTrue(Option.isNone(other.format))
        }))
    })
  })
})
