import { assert, describe, it } from "@effect/vitest"
import { ExitCode, exitCodeMeaning } from "../../src/domain/ExitCode.ts"

describe("ExitCode", () => {
  describe("ExitCode", () => {
    it("returns the numbers DESIGN.md gives", () => {
      assert.deepStrictEqual({ ...ExitCode }, {
        Success: 0,
        Usage: 2,
        VerificationFailed: 30,
        ValidationFailed: 31,
        VersionExists: 32,
        MetadataMissing: 33,
        SignatureRequired: 34,
        EncryptionRequired: 35,
        RepositoryFailed: 36,
        PublishRolledBack: 37,
        PolicyViolation: 38,
        Unexpected: 39
      })
    })

    it("returns a distinct number per name", () => {
      const codes = Object.values(ExitCode)
      assert.strictEqual(new Set(codes).size, codes.length)
    })
  })

  describe("exitCodeMeaning", () => {
    it("returns a non-empty meaning for exactly the defined codes", () => {
      const keys = Object.keys(exitCodeMeaning).map(Number).sort((a, b) => a - b)
      assert.deepStrictEqual(keys, Object.values(ExitCode).sort((a, b) => a - b))
      for (const code of Object.values(ExitCode)) assert.isAbove(exitCodeMeaning[code].length, 0)
    })

    it("returns a distinct meaning per code", () => {
      const meanings = Object.values(exitCodeMeaning)
      assert.strictEqual(new Set(meanings).size, meanings.length)
    })
  })
})
