import { assert, describe, it } from "@effect/vitest"
import { Either, FastCheck as fc, Schema } from "effect"
import { ValidationResult, VerificationResult } from "../../src/domain/Results.ts"

const KNOWN = new Set([
  "passed", "timestamp", "exit_code", "hash_verified", "signature_verified", "sbom_validated",
  "slsa_validated", "policy_passed", "__proto__"
])

const decodeVerification = Schema.decodeUnknownEither(VerificationResult)
const decodeValidation = Schema.decodeUnknownEither(ValidationResult)

describe("Results", () => {
  describe("VerificationResult", () => {
    describe("when the result has the known fields", () => {
      it("returns them", () => {
        const value = {
          passed: true,
          timestamp: "2024-01-01T00:00:00Z",
          hash_verified: true,
          signature_verified: false,
          sbom_validated: true,
          slsa_validated: true,
          policy_passed: true,
          exit_code: 0
        }
        assert.deepStrictEqual(decodeVerification(value), Either.right(value))
      })
    })

    describe("when the result has fields relpub does not know", () => {
      it("returns them unchanged", () => {
        const value = { passed: false, tool: "cosign", details: { a: [1, 2] } }
        assert.deepStrictEqual(decodeVerification(value), Either.right(value))
      })
    })

    describe("when the result has the wrong shape", () => {
      const bad: ReadonlyArray<unknown> = [
        {}, { passed: "true" }, { passed: 1 }, { passed: true, exit_code: 1.5 },
        { passed: true, timestamp: 5 }, { passed: true, hash_verified: "yes" },
        [], null, "passed", 1
      ]
      for (const value of bad) {
        it(`fails for ${JSON.stringify(value)}`, () => {
          assert.isTrue(Either.isLeft(decodeVerification(value)))
        })
      }
    })

    it.prop("returns passed as given for any extra fields", [
      fc.boolean(),
      fc.dictionary(fc.string().filter((k) => !KNOWN.has(k)), fc.jsonValue())
    ], ([passed, extra]) => {
      const result = decodeVerification({ ...extra, passed })
      assert.isTrue(Either.isRight(result))
      if (Either.isRight(result)) assert.strictEqual(result.right.passed, passed)
    }, { fastCheck: { numRuns: 100 } })
  })

  describe("ValidationResult", () => {
    describe("when the result has the known fields and more", () => {
      it("returns them", () => {
        const value = {
          passed: true,
          sbom_delta_passed: true,
          slsa_delta_passed: true,
          api_compat_passed: false,
          performance_passed: true,
          security_passed: true,
          behavioral_passed: true,
          exit_code: 0,
          suite: "e2e"
        }
        assert.deepStrictEqual(decodeValidation(value), Either.right(value))
      })
    })

    describe("when the result has the wrong shape", () => {
      it("fails", () => {
        const bad = [
          {}, { passed: null }, { passed: true, security_passed: "no" },
          { passed: true, exit_code: "0" }
        ]
        for (const value of bad) {
          assert.isTrue(Either.isLeft(decodeValidation(value)), JSON.stringify(value))
        }
      })
    })
  })
})
