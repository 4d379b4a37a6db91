import { assert, describe, it } from "@effect/vitest"
import { Either, FastCheck as fc, Schema } from "effect"
import { ExitCode } from "../../src/domain/ExitCode.ts"
import {
  CHECKS,
  decide,
  defaultPolicy,
  PolicyFile,
  resolvePolicy,
  sortViolations,
  violation,
  type Violation
} from "../../src/domain/Policy.ts"

const CODE_OF = {
  verification: [30],
  validation: [31],
  manifest: [33, 30],
  signatures: [34, 30],
  encryption: [35],
  metadata: [33],
  rules: [38]
} as const

const anyViolation: fc.Arbitrary<Violation> = fc.constantFrom(...CHECKS).chain((check) =>
  fc.record({
    check: fc.constant(check),
    exitCode: fc.constantFrom(...CODE_OF[check]),
    severity: fc.constantFrom("refuse" as const, "policy" as const),
    file: fc.option(fc.constantFrom("a", "b/c"), { nil: undefined }),
    message: fc.string({ maxLength: 8 })
  })
)
const violations = fc.array(anyViolation, { maxLength: 12 })

const decodePolicyFile = Schema.decodeUnknownEither(PolicyFile)

describe("Policy", () => {
  describe("CHECKS", () => {
    it("returns the checks in DESIGN.md's order", () => {
      assert.deepStrictEqual(CHECKS, [
        "verification", "validation", "manifest", "signatures", "encryption", "metadata", "rules"
      ])
    })
  })

  describe("#violation", () => {
    it("returns a violation with the given fields", () => {
      assert.deepStrictEqual(violation("rules", 38, "policy", undefined, "m"), {
        check: "rules", exitCode: 38, severity: "policy", file: undefined, message: "m"
      })
    })
  })

  describe("#defaultPolicy", () => {
    describe("when strict", () => {
      it("returns a policy that requires only validation", () => {
        const p = defaultPolicy()
        assert.strictEqual(p.mode, "strict")
        assert.isTrue(p.requireValidation)
        assert.isFalse(p.requireVerificationResult || p.requireSignatures || p.requireEncryption)
        assert.isFalse(p.requireSbom || p.requireProvenance)
        const limits = [p.maxFiles, p.maxFileBytes, p.maxReleaseBytes]
        assert.deepStrictEqual(limits, [undefined, undefined, undefined])
        assert.deepStrictEqual(p.forbiddenExtensions, [])
      })
    })

    describe("when lenient", () => {
      it("still checks validation, so its absence becomes a warning", () => {
        const p = defaultPolicy("lenient")
        assert.strictEqual(p.mode, "lenient")
        assert.isTrue(p.requireValidation)
      })
    })
  })

  describe("PolicyFile", () => {
    describe("when every field is well formed", () => {
      it("returns the decoded file", () => {
        const file: PolicyFile = {
          mode: "lenient",
          require_verification_result: true,
          require_validation: false,
          require_signatures: true,
          require_encryption: false,
          require_sbom: true,
          require_provenance: true,
          max_files: 10,
          max_file_bytes: 1024,
          max_release_bytes: 4096,
          forbidden_extensions: [".exe"],
          trusted_keys: "keys/"
        }
        assert.deepStrictEqual(decodePolicyFile(file), Either.right(file))
        assert.deepStrictEqual(decodePolicyFile({}), Either.right({}))
      })
    })

    describe("when a field has the wrong shape", () => {
      const bad: ReadonlyArray<Record<string, unknown>> = [
        { mode: "relaxed" },
        { require_signatures: "yes" },
        { max_files: 0 },
        { max_file_bytes: -1 },
        { max_release_bytes: 1.5 },
        { forbidden_extensions: ".exe" },
        { trusted_keys: 3 }
      ]
      for (const value of bad) {
        it(`fails for ${JSON.stringify(value)}`, () => {
          assert.isTrue(Either.isLeft(decodePolicyFile(value)))
        })
      }
    })
  })

  describe("#resolvePolicy", () => {
    describe("when there is no file and no flag", () => {
      it("returns the strict default", () => {
        assert.deepStrictEqual(resolvePolicy(undefined, {}), defaultPolicy("strict"))
      })
    })

    describe("when the file and the flags name a mode", () => {
      it("returns the flag's mode", () => {
        assert.strictEqual(resolvePolicy({ mode: "lenient" }, { mode: "strict" }).mode, "strict")
        assert.strictEqual(resolvePolicy({ mode: "strict" }, { mode: "lenient" }).mode, "lenient")
        assert.strictEqual(resolvePolicy({ mode: "lenient" }, {}).mode, "lenient")
      })
    })

    describe("when the mode is lenient and the file says nothing of validation", () => {
      it("returns a policy that still checks validation (a warning when lenient)", () => {
        assert.isTrue(resolvePolicy({}, { mode: "lenient" }).requireValidation)
        const file = { mode: "lenient", require_validation: true } as const
        assert.isTrue(resolvePolicy(file, {}).requireValidation)
        assert.isFalse(resolvePolicy({ require_validation: false }, {}).requireValidation)
      })
    })

    describe("when the file or a flag requires signatures or encryption", () => {
      it("returns a policy that requires them", () => {
        assert.isTrue(resolvePolicy(undefined, { requireSignatures: true }).requireSignatures)
        assert.isTrue(resolvePolicy({ require_signatures: true }, {}).requireSignatures)
        assert.isTrue(resolvePolicy(undefined, { requireEncryption: true }).requireEncryption)
        assert.isTrue(resolvePolicy({ require_encryption: true }, {}).requireEncryption)
      })
    })

    describe("when a flag is false but the file requires signatures", () => {
      it("returns a policy that still requires them", () => {
        const p = resolvePolicy({ require_signatures: true, require_encryption: true }, {
          requireSignatures: false,
          requireEncryption: false
        })
        assert.isTrue(p.requireSignatures)
        assert.isTrue(p.requireEncryption)
      })
    })

    describe("when the file sets rules", () => {
      it("returns them", () => {
        const p = resolvePolicy({
          require_verification_result: true,
          require_sbom: true,
          require_provenance: true,
          max_files: 3,
          max_file_bytes: 4,
          max_release_bytes: 5,
          forbidden_extensions: [".pdb"]
        }, {})
        assert.isTrue(p.requireVerificationResult && p.requireSbom && p.requireProvenance)
        assert.deepStrictEqual([p.maxFiles, p.maxFileBytes, p.maxReleaseBytes], [3, 4, 5])
        assert.deepStrictEqual(p.forbiddenExtensions, [".pdb"])
      })
    })
  })

  describe("#sortViolations", () => {
    describe("when violations come out of order", () => {
      it("returns them in check order, stable within a check", () => {
        const a = violation("rules", 38, "policy", undefined, "a")
        const b = violation("manifest", 33, "refuse", "x", "b")
        const c = violation("manifest", 30, "refuse", "y", "c")
        const d = violation("verification", 30, "policy", undefined, "d")
        assert.deepStrictEqual(sortViolations([a, b, c, d]), [d, b, c, a])
      })
    })

    it.prop("returns a stable permutation in check order", [violations], ([vs]) => {
      const out = sortViolations(vs)
      assert.strictEqual(out.length, vs.length)
      for (const check of CHECKS) {
        const ofCheck = (xs: ReadonlyArray<Violation>) => xs.filter((v) => v.check === check)
        assert.deepStrictEqual(ofCheck(out), ofCheck(vs))
      }
      const order = out.map((v) => CHECKS.indexOf(v.check))
      assert.deepStrictEqual(order, [...order].sort((x, y) => x - y))
    }, { fastCheck: { numRuns: 200 } })
  })

  describe("#decide", () => {
    describe("when there are no violations", () => {
      it("returns success", () => {
        const none = { failures: [], warnings: [], exitCode: ExitCode.Success }
        assert.deepStrictEqual(decide(defaultPolicy(), []), none)
      })
    })

    describe("when strict", () => {
      it.prop("returns every violation as a failure, with the first one's code", { vs: violations },
        ({ vs }) => {
          const d = decide(defaultPolicy("strict"), vs)
          assert.deepStrictEqual(d.failures, sortViolations(vs))
          assert.deepStrictEqual(d.warnings, [])
          assert.strictEqual(d.exitCode, sortViolations(vs)[0]?.exitCode ?? ExitCode.Success)
        }, { fastCheck: { numRuns: 200 } })
    })

    describe("when lenient", () => {
      it.prop("returns policy violations as warnings, refuse ones as failures", { vs: violations },
        ({ vs }) => {
          const d = decide(defaultPolicy("lenient"), vs)
          const sorted = sortViolations(vs)
          assert.deepStrictEqual(d.failures, sorted.filter((v) => v.severity === "refuse"))
          assert.deepStrictEqual(d.warnings, sorted.filter((v) => v.severity === "policy"))
          assert.strictEqual(d.exitCode, d.failures[0]?.exitCode ?? ExitCode.Success)
        }, { fastCheck: { numRuns: 200 } })

      it("returns the exit code of the first refuse violation", () => {
        const d = decide(defaultPolicy("lenient"), [
          violation("verification", 30, "policy", undefined, "v"),
          violation("rules", 38, "policy", undefined, "r"),
          violation("signatures", 30, "refuse", "a.sig", "s"),
          violation("manifest", 33, "refuse", "x", "m")
        ])
        assert.strictEqual(d.exitCode, 33)
        assert.deepStrictEqual(d.failures.map((v) => v.check), ["manifest", "signatures"])
        assert.deepStrictEqual(d.warnings.map((v) => v.check), ["verification", "rules"])
      })
    })

    describe("when the same violation object appears twice", () => {
      it("returns it in failures or warnings but not both", () => {
        const v = violation("rules", 38, "policy", undefined, "r")
        const d = decide(defaultPolicy("lenient"), [v, v])
        assert.strictEqual(d.failures.length + d.warnings.length, 2)
      })
    })
  })
})
