import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { evaluate, type ReleaseFacts } from "../../src/domain/Checks.ts"
import { ExitCode } from "../../src/domain/ExitCode.ts"
import type { ManifestEntry } from "../../src/domain/Manifest.ts"
import {
  type Check,
  CHECKS,
  decide,
  defaultPolicy,
  type Policy,
  type Violation
} from "../../src/domain/Policy.ts"
import { isManifestMetadata } from "../../src/domain/ReleaseContent.ts"

type ResultKind = "none" | "pass" | "fail" | "invalid"
const MANIFEST_KINDS = [
  "ok", "missing", "invalid", "hash", "size", "unlisted", "absent", "version"
] as const
type ManifestKind = (typeof MANIFEST_KINDS)[number]

// One release directory with any mix of problems, described by flags.
interface Scenario {
  readonly mode: "strict" | "lenient"
  readonly verification: ResultKind
  readonly requireVerificationResult: boolean
  readonly validation: ResultKind
  readonly requireValidation: boolean
  readonly manifest: ManifestKind
  readonly refusedEntry: boolean
  readonly requireSignatures: boolean
  readonly signatures: "none" | "manifest" | "partial" | "all"
  readonly trustedKeys: boolean
  readonly invalidSignature: boolean
  readonly requireEncryption: boolean
  readonly encrypted: boolean
  readonly requireSbom: boolean
  readonly sbom: boolean
  readonly requireProvenance: boolean
  readonly provenance: boolean
  readonly tooManyFiles: boolean
  readonly forbiddenExtension: boolean
  readonly fileTooLarge: boolean
  readonly releaseTooLarge: boolean
}

const clean: Scenario = {
  mode: "strict",
  verification: "pass",
  requireVerificationResult: false,
  validation: "pass",
  requireValidation: true,
  manifest: "ok",
  refusedEntry: false,
  requireSignatures: false,
  signatures: "none",
  trustedKeys: false,
  invalidSignature: false,
  requireEncryption: false,
  encrypted: false,
  requireSbom: false,
  sbom: false,
  requireProvenance: false,
  provenance: false,
  tooManyFiles: false,
  forbiddenExtension: false,
  fileTooLarge: false,
  releaseTooLarge: false
}

const HASH = "b".repeat(64)
const OTHER_HASH = "c".repeat(64)

const resultInput = (kind: ResultKind, file: string) =>
  kind === "none"
    ? { _tag: "None" as const }
    : kind === "invalid"
    ? { _tag: "Invalid" as const, file, message: "not an object" }
    : { _tag: "Valid" as const, file, result: { passed: kind === "pass" } }

const build = (s: Scenario): { readonly policy: Policy; readonly facts: ReleaseFacts } => {
  const artifacts = ["app.tar.gz", "lib.zip"]
  if (s.encrypted) artifacts.push("secret.bin.enc")
  if (s.sbom) artifacts.push("sbom.cdx.json")
  if (s.provenance) artifacts.push("build.intoto.jsonl")
  if (s.manifest === "unlisted") artifacts.push("extra.bin")
  const signatures = s.signatures === "none"
    ? []
    : s.signatures === "manifest"
    ? ["manifest.json.sig"]
    : s.signatures === "partial"
    ? ["app.tar.gz.sig"]
    : artifacts.map((a) => `${a}.sig`)
  const manifests = s.manifest === "missing" ? [] : ["manifest.json"]
  const paths = [...artifacts, ...signatures, ...manifests]
  const files = paths.map((path) => ({ path, size: path === "lib.zip" ? 20 : 10 }))
  const listed: Array<ManifestEntry> = files
    .filter((f) => !isManifestMetadata(f.path) && f.path !== "extra.bin")
    .map((f) => ({
      path: f.path,
      sha256: HASH,
      size: s.manifest === "size" && f.path === "app.tar.gz" ? 11 : f.size
    }))
  if (s.manifest === "absent") listed.push({ path: "ghost.bin", sha256: HASH, size: 1 })
  const hashes = new Map(files.map((f) => [f.path, HASH]))
  if (s.manifest === "hash") hashes.set("app.tar.gz", OTHER_HASH)
  const policy: Policy = {
    ...defaultPolicy(s.mode),
    requireVerificationResult: s.requireVerificationResult,
    requireValidation: s.requireValidation,
    requireSignatures: s.requireSignatures,
    requireEncryption: s.requireEncryption,
    requireSbom: s.requireSbom,
    requireProvenance: s.requireProvenance,
    maxFiles: s.tooManyFiles ? 1 : undefined,
    maxFileBytes: s.fileTooLarge ? 15 : undefined,
    maxReleaseBytes: s.releaseTooLarge ? 5 : undefined,
    forbiddenExtensions: s.forbiddenExtension ? [".ZIP"] : []
  }
  const facts: ReleaseFacts = {
    version: "1.0.0",
    files,
    refused: s.refusedEntry ? [{ path: "link", reason: "symbolic link" }] : [],
    manifest: s.manifest === "missing"
      ? { _tag: "Missing" }
      : s.manifest === "invalid"
      ? { _tag: "Invalid", file: "manifest.json", problems: [{ where: "files", message: "x" }] }
      : {
        _tag: "Valid",
        manifest: {
          source: "manifest.json",
          version: s.manifest === "version" ? "2.0.0" : "1.0.0",
          entries: listed
        }
      },
    hashes,
    verification: resultInput(s.verification, "verification.json"),
    validation: resultInput(s.validation, "validation.json"),
    signatureFindings: s.invalidSignature
      ? [{ file: "app.tar.gz.sig", ok: false, detail: "unknown key" }]
      : [],
    trustedKeysGiven: s.trustedKeys
  }
  return { policy, facts }
}

type Expected = readonly [Check, ExitCode, Violation["severity"]]

// DESIGN.md's policy table, read independently of the implementation.
const expected = (s: Scenario): ReadonlyArray<Expected> => {
  const out: Array<Expected> = []
  if (s.verification === "invalid") out.push(["verification", 30, "refuse"])
  if (s.verification === "fail") out.push(["verification", 30, "policy"])
  if (s.verification === "none" && s.requireVerificationResult) {
    out.push(["verification", 30, "policy"])
  }
  if (s.validation === "invalid") out.push(["validation", 31, "refuse"])
  if (s.validation === "fail") out.push(["validation", 31, "policy"])
  if (s.validation === "none" && s.requireValidation) out.push(["validation", 31, "policy"])
  if (s.refusedEntry) out.push(["manifest", 33, "refuse"])
  if (s.manifest === "missing") out.push(["manifest", 33, "policy"])
  // A size that differs is a content mismatch, like a hash that differs.
  if (s.manifest === "hash" || s.manifest === "size") out.push(["manifest", 30, "refuse"])
  if (["invalid", "unlisted", "absent", "version"].includes(s.manifest)) {
    out.push(["manifest", 33, "refuse"])
  }
  if (s.requireSignatures) {
    if (s.signatures === "none") out.push(["signatures", 34, "policy"])
    else {
      if (s.signatures === "partial") out.push(["signatures", 34, "policy"])
      if (!s.trustedKeys) out.push(["signatures", 30, "policy"])
    }
  }
  if (s.invalidSignature) out.push(["signatures", 30, "refuse"])
  if (s.requireEncryption && !s.encrypted) out.push(["encryption", 35, "policy"])
  if (s.requireSbom && !s.sbom) out.push(["metadata", 33, "policy"])
  if (s.requireProvenance && !s.provenance) out.push(["metadata", 33, "policy"])
  if (s.tooManyFiles || s.forbiddenExtension || s.fileTooLarge || s.releaseTooLarge) {
    out.push(["rules", 38, "policy"])
  }
  return out
}

const distinct = (xs: ReadonlyArray<Expected>) => [...new Set(xs.map((x) => x.join(" ")))].sort()
const triples = (vs: ReadonlyArray<Violation>) =>
  distinct(vs.map((v) => [v.check, v.exitCode, v.severity] as const))

const scenario: fc.Arbitrary<Scenario> = fc.record({
  mode: fc.constantFrom("strict", "lenient"),
  verification: fc.constantFrom("none", "pass", "fail", "invalid"),
  requireVerificationResult: fc.boolean(),
  validation: fc.constantFrom("none", "pass", "fail", "invalid"),
  requireValidation: fc.boolean(),
  manifest: fc.constantFrom(...MANIFEST_KINDS),
  refusedEntry: fc.boolean(),
  requireSignatures: fc.boolean(),
  signatures: fc.constantFrom("none", "manifest", "partial", "all"),
  trustedKeys: fc.boolean(),
  invalidSignature: fc.boolean(),
  requireEncryption: fc.boolean(),
  encrypted: fc.boolean(),
  requireSbom: fc.boolean(),
  sbom: fc.boolean(),
  requireProvenance: fc.boolean(),
  provenance: fc.boolean(),
  tooManyFiles: fc.boolean(),
  forbiddenExtension: fc.boolean(),
  fileTooLarge: fc.boolean(),
  releaseTooLarge: fc.boolean()
})

const run = (s: Scenario) => {
  const { facts, policy } = build(s)
  return evaluate(policy, facts)
}

describe("Checks", () => {
  describe("#evaluate", () => {
    describe("when the release is clean", () => {
      it("returns no violations and notes the missing SBOM and provenance", () => {
        const evaluation = run(clean)
        assert.deepStrictEqual(evaluation.violations, [])
        assert.strictEqual(evaluation.notes.length, 2)
      })
    })

    describe("when the SBOM and provenance are present", () => {
      it("returns no notes", () => {
        assert.deepStrictEqual(run({ ...clean, sbom: true, provenance: true }).notes, [])
      })
    })

    // Each row changes one thing in a clean release: a check fires for its case and not otherwise.
    const cases: ReadonlyArray<readonly [string, Partial<Scenario>, ReadonlyArray<Expected>]> = [
      ["no verification result and none required", { verification: "none" }, []],
      ["no verification result and one required",
        { verification: "none", requireVerificationResult: true },
        [["verification", 30, "policy"]]],
      ["a failed verification result", { verification: "fail" }, [["verification", 30, "policy"]]],
      ["a malformed verification result", { verification: "invalid" },
        [["verification", 30, "refuse"]]],
      ["no validation result under strict defaults", { validation: "none" },
        [["validation", 31, "policy"]]],
      ["no validation result and none required",
        { validation: "none", requireValidation: false }, []],
      ["a failed validation result", { validation: "fail" }, [["validation", 31, "policy"]]],
      ["a malformed validation result", { validation: "invalid" }, [["validation", 31, "refuse"]]],
      ["no manifest", { manifest: "missing" }, [["manifest", 33, "policy"]]],
      ["a malformed manifest", { manifest: "invalid" }, [["manifest", 33, "refuse"]]],
      ["a hash mismatch", { manifest: "hash" }, [["manifest", 30, "refuse"]]],
      ["a size mismatch", { manifest: "size" }, [["manifest", 30, "refuse"]]],
      ["a file outside the manifest", { manifest: "unlisted" }, [["manifest", 33, "refuse"]]],
      ["a listed file that is absent", { manifest: "absent" }, [["manifest", 33, "refuse"]]],
      ["a manifest for another version", { manifest: "version" }, [["manifest", 33, "refuse"]]],
      ["a refused entry such as a symbolic link", { refusedEntry: true },
        [["manifest", 33, "refuse"]]],
      ["required signatures that are missing", { requireSignatures: true },
        [["signatures", 34, "policy"]]],
      ["a signed manifest and trusted keys",
        { requireSignatures: true, signatures: "manifest", trustedKeys: true }, []],
      ["a detached signature per file and trusted keys",
        { requireSignatures: true, signatures: "all", trustedKeys: true }, []],
      ["some files without a signature",
        { requireSignatures: true, signatures: "partial", trustedKeys: true },
        [["signatures", 34, "policy"]]],
      ["required signatures and no trusted keys",
        { requireSignatures: true, signatures: "manifest" },
        [["signatures", 30, "policy"]]],
      ["signatures that are not required and no trusted keys", { signatures: "partial" }, []],
      ["an invalid signature", { invalidSignature: true }, [["signatures", 30, "refuse"]]],
      ["required encryption and no .enc file", { requireEncryption: true },
        [["encryption", 35, "policy"]]],
      ["required encryption and a .enc file", { requireEncryption: true, encrypted: true }, []],
      ["a required SBOM that is missing", { requireSbom: true }, [["metadata", 33, "policy"]]],
      ["a required SBOM that is present", { requireSbom: true, sbom: true }, []],
      ["required provenance that is missing", { requireProvenance: true },
        [["metadata", 33, "policy"]]],
      ["required provenance that is present", { requireProvenance: true, provenance: true }, []],
      ["more files than allowed", { tooManyFiles: true }, [["rules", 38, "policy"]]],
      ["a forbidden extension in another case", { forbiddenExtension: true },
        [["rules", 38, "policy"]]],
      ["a file over max_file_bytes", { fileTooLarge: true }, [["rules", 38, "policy"]]],
      ["a release over max_release_bytes", { releaseTooLarge: true }, [["rules", 38, "policy"]]]
    ]
    for (const [name, change, want] of cases) {
      describe(`when the release has ${name}`, () => {
        const title = want.length === 0
          ? "returns no violations"
          : `returns ${want[0]![0]} with exit code ${want[0]![1]}`
        it(title, () => {
          assert.deepStrictEqual(triples(run({ ...clean, ...change }).violations), distinct(want))
        })
      })
    }

    describe("when the manifest is SHA256SUMS and hashing did not run", () => {
      it("returns no hash or size violation", () => {
        const { policy, facts } = build(clean)
        const entries = facts.files
          .filter((f) => !isManifestMetadata(f.path))
          .map((f) => ({ path: f.path, sha256: OTHER_HASH, size: undefined }))
        const evaluation = evaluate(policy, {
          ...facts,
          hashes: undefined,
          manifest: {
            _tag: "Valid",
            manifest: { source: "SHA256SUMS", version: undefined, entries }
          }
        })
        assert.deepStrictEqual(evaluation.violations, [])
      })
    })

    describe("when a release has several problems at once", () => {
      it.prop("returns exactly the violations of the policy table", [scenario], ([s]) => {
        assert.deepStrictEqual(triples(run(s).violations), distinct(expected(s)))
      }, { fastCheck: { numRuns: 200 } })

      it.prop("returns violations in check order", [scenario], ([s]) => {
        const order = run(s).violations.map((v) => CHECKS.indexOf(v.check))
        assert.deepStrictEqual(order, [...order].sort((a, b) => a - b))
      }, { fastCheck: { numRuns: 200 } })
    })
  })

  describe("#decide", () => {
    describe("when applied to evaluated facts with several problems", () => {
      it.prop("returns the exit code of the first failing check in DESIGN.md order", [scenario],
        ([s]) => {
          const { facts, policy } = build(s)
          const decision = decide(policy, evaluate(policy, facts).violations)
          const failing = expected(s)
            .filter(([, , severity]) => severity === "refuse" || s.mode === "strict")
          assert.strictEqual(decision.exitCode, failing[0]?.[1] ?? ExitCode.Success)
          if (decision.failures.length > 0) {
            const first = Math.min(...decision.failures.map((v) => CHECKS.indexOf(v.check)))
            assert.strictEqual(CHECKS.indexOf(decision.failures[0]!.check), first)
            assert.strictEqual(decision.exitCode, decision.failures[0]!.exitCode)
          }
        }, { fastCheck: { numRuns: 200 } })

      it.prop("returns only refuse violations as failures when lenient", [scenario], ([s]) => {
        const { facts, policy } = build({ ...s, mode: "lenient" })
        const violations = evaluate(policy, facts).violations
        const decision = decide(policy, violations)
        assert.isTrue(decision.failures.every((v) => v.severity === "refuse"))
        assert.isTrue(decision.warnings.every((v) => v.severity === "policy"))
        assert.strictEqual(decision.failures.length + decision.warnings.length, violations.length)
        assert.strictEqual(
          decision.failures.length,
          violations.filter((v) => v.severity === "refuse").length
        )
      }, { fastCheck: { numRuns: 200 } })
    })

    describe("when the release is clean but lenient", () => {
      it("returns success", () => {
        const { facts, policy } = build({
          ...clean,
          mode: "lenient",
          validation: "none",
          requireValidation: false
        })
        const decision = decide(policy, evaluate(policy, facts).violations)
        assert.strictEqual(decision.exitCode, ExitCode.Success)
      })
    })
  })
})
