import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, FastCheck as fc, Schema } from "effect"
import { ExitCode, exitCodeMeaning } from "../../src/domain/ExitCode.ts"
import { violation } from "../../src/domain/Policy.ts"
import { encodeJson } from "../../src/domain/Records.ts"
import { PublicationReport, renderTextReport, violationJson } from "../../src/domain/Report.ts"

const report: PublicationReport = {
  version: "v1.4.0",
  status: "success",
  timestamp: "2024-05-01T12:00:00Z",
  repository_type: "local",
  repository_location: "./artifact-repository",
  policy_mode: "strict",
  verification_passed: true,
  validation_passed: true,
  metadata_complete: false,
  signatures_present: true,
  artifacts_published: ["a.tgz", "b.tgz"],
  total_size_bytes: 30,
  publication_duration_seconds: 1.23456,
  index_updated: true,
  audit_log_created: true,
  audit_log_signed: true,
  release_sha256: "f".repeat(64),
  transaction_id: "tx-1",
  warnings: [],
  errors: [],
  violations: [],
  exit_code: 0,
  summary: "published v1.4.0"
}

const reread = (r: PublicationReport) =>
  Schema.decodeUnknownSync(PublicationReport)(JSON.parse(new TextDecoder().decode(encodeJson(r))))

const field = (text: string, label: string) =>
  text.split("\n").find((l) => l.startsWith(`  ${label}`))?.slice(22)

describe("Report", () => {
  describe("#violationJson", () => {
    it("returns the violation with snake-case fields and a null file", () => {
      assert.deepStrictEqual(violationJson(violation("rules", 38, "policy", undefined, "m")), {
        check: "rules", exit_code: 38, severity: "policy", file: null, message: "m"
      })
      assert.strictEqual(violationJson(violation("manifest", 30, "refuse", "a", "m")).file, "a")
    })
  })

  describe("PublicationReport", () => {
    const finiteReport = Arbitrary.make(PublicationReport)
      .filter((r) => Number.isFinite(r.publication_duration_seconds))

    it.prop("decodes what encodeJson writes", [finiteReport], ([r]) => {
      // Compare as bytes: JSON cannot tell -0 from 0.
      assert.deepStrictEqual(encodeJson(reread(r)), encodeJson(r))
    }, { fastCheck: { numRuns: 50 } })

    describe("when the report has violations", () => {
      it("decodes what encodeJson writes", () => {
        const v = violationJson(violation("manifest", 33, "refuse", "x", "m"))
        const r: PublicationReport = { ...report, status: "failed", exit_code: 33, violations: [v] }
        assert.deepStrictEqual(reread(r), r)
      })
    })

    describe("when the duration is not a finite number", () => {
      it("fails to encode, so no report with a null duration is ever written", () => {
        assert.throws(() =>
          Schema.encodeSync(PublicationReport)({ ...report, publication_duration_seconds: Number.POSITIVE_INFINITY })
        )
      })
    })
  })

  describe("#renderTextReport", () => {
    describe("when the publish succeeded", () => {
      it("returns every field and the summary last", () => {
        const text = renderTextReport(report)
        assert.isTrue(text.startsWith("relpub publication report\n"))
        assert.isTrue(text.endsWith("published v1.4.0\n"))
        assert.strictEqual(field(text, "version"), "v1.4.0")
        assert.strictEqual(field(text, "exit code"), `0 (${exitCodeMeaning[0]})`)
        assert.strictEqual(field(text, "metadata complete"), "no")
        assert.strictEqual(field(text, "artifacts"), "2 (30 bytes)")
        assert.strictEqual(field(text, "audit record"), "written, signed")
        assert.strictEqual(field(text, "duration"), "1.235 s")
        assert.notInclude(text, "errors:")
        assert.notInclude(text, "warnings:")
      })
    })

    describe("when the publish failed with errors and warnings", () => {
      it("returns both lists before the summary", () => {
        const text = renderTextReport({
          ...report,
          status: "failed",
          exit_code: 33,
          release_sha256: null,
          audit_log_created: false,
          errors: ["e1", "e2"],
          warnings: ["w1"],
          summary: "refused"
        })
        const lines = text.split("\n")
        assert.deepStrictEqual(lines.slice(-7), [
          "errors:", "  - e1", "  - e2", "warnings:", "  - w1", "refused", ""
        ])
        assert.strictEqual(field(text, "release sha256"), "-")
        assert.strictEqual(field(text, "audit record"), "no")
        assert.strictEqual(field(text, "exit code"), `33 (${exitCodeMeaning[33]})`)
      })
    })

    describe("when the audit record is unsigned", () => {
      it("returns it as written, unsigned", () => {
        const text = renderTextReport({ ...report, audit_log_signed: false })
        assert.strictEqual(field(text, "audit record"), "written, unsigned")
      })
    })

    describe("when the exit code is not one of relpub's", () => {
      it("returns it as unknown", () => {
        const text = renderTextReport({ ...report, exit_code: 99 })
        assert.strictEqual(field(text, "exit code"), "99 (unknown)")
      })
    })

    const reports = Arbitrary.make(PublicationReport)
    it.prop("returns the header first and the summary last", { r: reports }, ({ r }) => {
      const text = renderTextReport(r)
      assert.isTrue(text.startsWith("relpub publication report\n"))
      assert.isTrue(text.endsWith(`${r.summary}\n`))
      for (const e of r.errors) assert.include(text, `  - ${e}`)
    }, { fastCheck: { numRuns: 50 } })

    const codes = fc.constantFrom(...Object.values(ExitCode))
    it.prop("returns the meaning of every defined exit code", { code: codes }, ({ code }) => {
      const text = renderTextReport({ ...report, exit_code: code })
      assert.strictEqual(field(text, "exit code"), `${code} (${exitCodeMeaning[code]})`)
    }, { fastCheck: { numRuns: 30 } })
  })
})
