import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Either, FastCheck as fc, Schema } from "effect"
import {
  AuditPointer,
  AuditRecord,
  Claim,
  emptyIndex,
  encodeJson,
  IndexEntry,
  Keys,
  ReleaseRecord,
  RepositoryIndex
} from "../../src/domain/Records.ts"

const H = "d".repeat(64)
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
const reread = <A, I>(schema: Schema.Schema<A, I>, value: unknown): A =>
  Schema.decodeUnknownSync(schema)(JSON.parse(text(encodeJson(value))))

const releaseRecord: ReleaseRecord = {
  schema: "relpub/release/v1",
  version: "v1.4.0",
  published_at: "2024-05-01T12:00:00.000Z",
  sha256: H,
  size_bytes: 30,
  files: [{ path: "app.tgz", sha256: H, size: 10 }, { path: "d/é.bin", sha256: H, size: 20 }],
  sbom_id: "urn:uuid:1",
  slsa_id: null,
  provenance_hash: H,
  signed: true,
  encrypted: false,
  policy_mode: "strict",
  verification: { passed: true, hash_verified: true },
  validation: null,
  transaction_id: "tx-1",
  signing_key_id: "ed25519:abcd"
}

const entry: IndexEntry = {
  version: "v1.4.0",
  timestamp: "2024-05-01T12:00:00.000Z",
  sha256: H,
  size_bytes: 30,
  artifacts: ["app.tgz"],
  sbom_id: null,
  slsa_id: "run-1",
  provenance_hash: null,
  signed: false,
  encrypted: true,
  verification: null,
  validation: { passed: true, nested: { list: [1, "two", null] } },
  release_record_sha256: H
}

const auditRecord: AuditRecord = {
  schema: "relpub/audit/v1",
  audit_id: "a-1",
  sequence: 2,
  event: "publish",
  version: "v1.4.0",
  timestamp: "2024-05-01T12:00:01.000Z",
  machine_id: "m",
  previous: { key: "audit/v1.3.0.audit.json", sha256: H, sequence: 1 },
  release_record_sha256: H,
  metadata: {
    sha256: H,
    sbom_id: null,
    slsa_id: null,
    provenance_hash: null,
    signed: true,
    encrypted: false
  },
  verification: null,
  validation: null,
  publication: {
    artifacts_published: 2,
    total_bytes: 30,
    repository_type: "local",
    policy_mode: "lenient",
    transaction_id: "tx-1"
  },
  signing_key_id: null
}

const claim: Claim = {
  schema: "relpub/claim/v1",
  version: "1.4.0",
  transaction_id: "tx-1",
  host: "ci-7",
  pid: 4242,
  created_at: "2024-05-01T12:00:00.000Z",
  lease_expires_at: "2024-05-01T12:15:00.000Z",
  staging_prefix: ".relpub/staging/tx-1/"
}

const schemas = [
  ["ReleaseRecord", ReleaseRecord],
  ["IndexEntry", IndexEntry],
  ["RepositoryIndex", RepositoryIndex],
  ["AuditRecord", AuditRecord],
  ["AuditPointer", AuditPointer],
  ["Claim", Claim]
] as const

describe("Records", () => {
  describe("#encodeJson", () => {
    it("returns 2-space JSON with a trailing newline", () => {
      const want = "{\n  \"a\": [\n    1\n  ],\n  \"b\": \"é\"\n}\n"
      assert.strictEqual(text(encodeJson({ a: [1], b: "é" })), want)
    })

    describe("when a record is encoded", () => {
      const samples = [
        ["ReleaseRecord", ReleaseRecord, releaseRecord],
        ["IndexEntry", IndexEntry, entry],
        ["AuditRecord", AuditRecord, auditRecord],
        ["AuditRecord with details", AuditRecord,
          { ...auditRecord, event: "repair", details: "rolled back tx-0" }],
        ["IndexEntry yanked", IndexEntry, { ...entry, yanked: { at: entry.timestamp, reason: "CVE-1" } }],
        ["AuditRecord of a yank", AuditRecord, { ...auditRecord, event: "yank", details: "CVE-1" }],
        ["AuditRecord of an unyank", AuditRecord, { ...auditRecord, event: "unyank", details: "fixed" }],
        ["Claim", Claim, claim],
        ["RepositoryIndex", RepositoryIndex, {
          ...emptyIndex,
          total_releases: 1,
          last_updated: entry.timestamp,
          serial: 3,
          audit_head: auditRecord.previous,
          releases: [entry]
        }]
      ] as const
      for (const [name, schema, value] of samples) {
        it(`returns bytes that ${name} decodes to the same value`, () => {
          assert.deepStrictEqual(reread(schema as Schema.Schema<unknown, unknown>, value), value)
        })
      }
    })

    for (const [name, schema] of schemas) {
      // Schema.Record assigns keys, so a "__proto__" key in free-form JSON is dropped on decode.
      const records = Arbitrary.make(schema as Schema.Schema<unknown, unknown>)
        .filter((value) => !JSON.stringify(value).includes("\"__proto__\""))
      it.prop(`returns bytes that ${name} decodes for generated records`, [records], ([value]) => {
        const decoded = reread(schema as Schema.Schema<unknown, unknown>, value)
        assert.strictEqual(text(encodeJson(decoded)), text(encodeJson(value)))
      }, { fastCheck: { numRuns: 30 } })
    }
  })

  describe("RepositoryIndex", () => {
    describe("when an index predates serials and the audit head", () => {
      it("returns it with the defaults filled in", () => {
        const legacy = { total_releases: 0, last_updated: null, releases: [] }
        assert.deepStrictEqual(Schema.decodeUnknownSync(RepositoryIndex)(legacy), emptyIndex)
      })
    })

    describe("when the empty index is encoded", () => {
      it("returns bytes that decode to the empty index", () => {
        assert.deepStrictEqual(reread(RepositoryIndex, emptyIndex), emptyIndex)
      })
    })

    describe("when the index has the wrong shape", () => {
      it("fails", () => {
        const decode = Schema.decodeUnknownEither(RepositoryIndex)
        for (const bad of [
          { ...emptyIndex, schema: "relpub/index/v2" },
          { ...emptyIndex, serial: 1.5 },
          { ...emptyIndex, releases: [{ ...entry, sha256: "x" }] },
          { ...emptyIndex, audit_head: { key: "k", sha256: H } },
          { releases: [] }
        ]) {
          assert.isTrue(Either.isLeft(decode(bad)), JSON.stringify(bad).slice(0, 80))
        }
      })
    })
  })

  describe("ReleaseRecord", () => {
    describe("when a field has the wrong shape", () => {
      it("fails", () => {
        const decode = Schema.decodeUnknownEither(ReleaseRecord)
        for (const bad of [
          { ...releaseRecord, schema: "relpub/release/v0" },
          { ...releaseRecord, policy_mode: "relaxed" },
          { ...releaseRecord, provenance_hash: "abc" },
          { ...releaseRecord, files: [{ path: "a", sha256: H, size: -1 }] },
          { ...releaseRecord, signed: "yes" },
          { ...releaseRecord, verification: [true] }
        ]) {
          assert.isTrue(Either.isLeft(decode(bad)))
        }
      })
    })
  })

  describe("AuditRecord", () => {
    describe("when the event is unknown", () => {
      it("fails", () => {
        const decode = Schema.decodeUnknownEither(AuditRecord)
        assert.isTrue(Either.isLeft(decode({ ...auditRecord, event: "delete" })))
      })
    })
  })

  describe("Keys", () => {
    it("returns the repository layout of DESIGN.md", () => {
      assert.strictEqual(Keys.index, "index.json")
      assert.strictEqual(Keys.indexMarkdown, "index.md")
      assert.strictEqual(Keys.releasePrefix("v1.0.0"), "releases/v1.0.0/")
      assert.strictEqual(Keys.releaseFile("v1.0.0", "d/a.tgz"), "releases/v1.0.0/d/a.tgz")
      assert.strictEqual(Keys.releaseRecord("v1.0.0"), "releases/v1.0.0/release.json")
      assert.strictEqual(Keys.releaseSignature("v1.0.0"), "releases/v1.0.0/release.json.sig")
      assert.strictEqual(Keys.auditRecord("v1.0.0"), "audit/v1.0.0.audit.json")
      assert.strictEqual(Keys.auditSignature("v1.0.0"), "audit/v1.0.0.audit.sig")
      assert.strictEqual(Keys.repairAuditRecord("tx"), "audit/repair-tx.audit.json")
      assert.strictEqual(Keys.repairAuditSignature("tx"), "audit/repair-tx.audit.sig")
      assert.strictEqual(Keys.claim("1.0.0"), ".relpub/claims/1.0.0.json")
      assert.strictEqual(Keys.claimsPrefix, ".relpub/claims/")
      assert.strictEqual(Keys.stagingPrefix("tx"), ".relpub/staging/tx/")
      assert.strictEqual(Keys.stagingRoot, ".relpub/staging/")
    })

    const args = {
      v: fc.constantFrom("1.0.0", "v2.0.0-rc.1"),
      p: fc.stringMatching(/^[a-z]{1,5}(\/[a-z]{1,5}){0,3}$/)
    }
    it.prop("returns release files under the release prefix", args, ({ v, p }) => {
      assert.isTrue(Keys.releaseFile(v, p).startsWith(Keys.releasePrefix(v)))
      assert.isTrue(Keys.releaseRecord(v).startsWith(Keys.releasePrefix(v)))
    }, { fastCheck: { numRuns: 50 } })
  })
})
