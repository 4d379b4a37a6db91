import type { ManifestProblem } from "./Manifest.ts"
import { type Manifest } from "./Manifest.ts"
import { ExitCode } from "./ExitCode.ts"
import { type Policy, violation, type Violation } from "./Policy.ts"
import {
  isEncryptedFile,
  isManifestMetadata,
  isProvenanceFile,
  isSbomFile,
  isSignatureFile,
  signedSubject
} from "./ReleaseContent.ts"
import type { ValidationResult, VerificationResult } from "./Results.ts"
import { canonicalVersion } from "./Version.ts"

/** A result file as the reader found it. */
export type ResultInput<A> =
  | { readonly _tag: "None" }
  | { readonly _tag: "Valid"; readonly file: string; readonly result: A }
  | { readonly _tag: "Invalid"; readonly file: string; readonly message: string }

export type ManifestInput =
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Valid"; readonly manifest: Manifest }
  | {
      readonly _tag: "Invalid"
      readonly file: string
      readonly problems: ReadonlyArray<ManifestProblem>
    }

/** A signature finding from the verifiers (`ok: false` when invalid or by an unknown key). */
export interface SignatureFinding {
  readonly file: string
  readonly ok: boolean
  readonly detail: string
}

/**
 * Everything the policy needs to know about a release directory. Paths are
 * relative to the release directory.
 *
 * @category models
 */
export interface ReleaseFacts {
  readonly version: string
  readonly files: ReadonlyArray<{ readonly path: string; readonly size: number }>
  /** Entries that can never be published (links, devices, hostile names). */
  readonly refused: ReadonlyArray<{ readonly path: string; readonly reason: string }>
  readonly manifest: ManifestInput
  /** SHA-256 per path; absent when hashing did not run (input already refused). */
  readonly hashes: ReadonlyMap<string, string> | undefined
  readonly verification: ResultInput<VerificationResult>
  readonly validation: ResultInput<ValidationResult>
  readonly signatureFindings: ReadonlyArray<SignatureFinding>
  readonly trustedKeysGiven: boolean
}

export interface Evaluation {
  readonly violations: ReadonlyArray<Violation>
  /** Observations that are never failures (e.g. no SBOM when not required). */
  readonly notes: ReadonlyArray<string>
}

const verificationChecks = (policy: Policy, facts: ReleaseFacts): Array<Violation> => {
  const v = facts.verification
  if (v._tag === "Invalid") return [violation("verification", 30, "refuse", v.file, v.message)]
  if (v._tag === "Valid" && !v.result.passed) {
    return [violation("verification", 30, "policy", v.file, `${v.file}: verification did not pass`)]
  }
  if (v._tag === "None" && policy.requireVerificationResult) {
    return [
      violation(
        "verification",
        30,
        "policy",
        undefined,
        "the policy requires a verification result file (--verification-result)"
      )
    ]
  }
  return []
}

const validationChecks = (policy: Policy, facts: ReleaseFacts): Array<Violation> => {
  const v = facts.validation
  if (v._tag === "Invalid") return [violation("validation", 31, "refuse", v.file, v.message)]
  if (v._tag === "Valid" && !v.result.passed) {
    return [violation("validation", 31, "policy", v.file, `${v.file}: validation did not pass`)]
  }
  if (v._tag === "None" && policy.requireValidation) {
    return [
      violation(
        "validation",
        31,
        "policy",
        undefined,
        "no validation result given (--validation-result)"
      )
    ]
  }
  return []
}

const manifestChecks = (facts: ReleaseFacts): Array<Violation> => {
  const out: Array<Violation> = []
  for (const r of facts.refused)
    out.push(violation("manifest", 33, "refuse", r.path, `${r.path}: ${r.reason}`))
  const m = facts.manifest
  if (m._tag === "Invalid") {
    for (const p of m.problems)
      out.push(violation("manifest", 33, "refuse", m.file, `${p.where}: ${p.message}`))
    return out
  }
  if (m._tag === "Missing") {
    out.push(
      violation(
        "manifest",
        33,
        "policy",
        undefined,
        "no manifest.json or SHA256SUMS in the release directory"
      )
    )
    return out
  }
  const manifest = m.manifest
  if (
    manifest.version !== undefined &&
    canonicalVersion(manifest.version) !== canonicalVersion(facts.version)
  ) {
    out.push(
      violation(
        "manifest",
        33,
        "refuse",
        manifest.source,
        `${manifest.source} is for version ${manifest.version}, not ${facts.version}`
      )
    )
  }
  const onDisk = new Map(facts.files.map((f) => [f.path, f.size]))
  const listed = new Set<string>()
  for (const entry of manifest.entries) {
    listed.add(entry.path)
    const size = onDisk.get(entry.path)
    if (size === undefined) {
      out.push(
        violation(
          "manifest",
          33,
          "refuse",
          entry.path,
          `${entry.path}: listed in ${manifest.source} but not in the release directory`
        )
      )
      continue
    }
    if (entry.size !== undefined && entry.size !== size) {
      // Different bytes, found without hashing: the hash mismatch of DESIGN.md (30).
      out.push(
        violation(
          "manifest",
          30,
          "refuse",
          entry.path,
          `${entry.path}: size is ${size} bytes, ${manifest.source} says ${entry.size}`
        )
      )
      continue
    }
    const actual = facts.hashes?.get(entry.path)
    if (actual !== undefined && actual !== entry.sha256) {
      out.push(
        violation(
          "manifest",
          30,
          "refuse",
          entry.path,
          `${entry.path}: SHA-256 is ${actual}, ${manifest.source} says ${entry.sha256}`
        )
      )
    }
  }
  for (const f of facts.files) {
    if (!listed.has(f.path) && !isManifestMetadata(f.path)) {
      out.push(
        violation(
          "manifest",
          33,
          "refuse",
          f.path,
          `${f.path}: present in the release directory but not listed in ${manifest.source}`
        )
      )
    }
  }
  return out
}

const signatureChecks = (policy: Policy, facts: ReleaseFacts): Array<Violation> => {
  const out: Array<Violation> = []
  const signatures = facts.files.filter((f) => isSignatureFile(f.path))
  if (policy.requireSignatures) {
    if (signatures.length === 0) {
      out.push(
        violation(
          "signatures",
          34,
          "policy",
          undefined,
          "signatures are required but the release has no .sig, .asc, .minisig or " +
            ".sigstore.json file"
        )
      )
    } else {
      const coversAll = signatures.some((s) => isManifestMetadata(signedSubject(s.path) ?? ""))
      if (!coversAll) {
        const signed = new Set(signatures.map((s) => signedSubject(s.path)))
        for (const f of facts.files) {
          if (!isSignatureFile(f.path) && !isManifestMetadata(f.path) && !signed.has(f.path)) {
            out.push(
              violation(
                "signatures",
                34,
                "policy",
                f.path,
                `${f.path}: no detached signature, and no signature over the manifest`
              )
            )
          }
        }
      }
      if (!facts.trustedKeysGiven) {
        out.push(
          violation(
            "signatures",
            30,
            "policy",
            undefined,
            "signatures are required but no trusted keys were given (--trusted-keys), so none " +
              "can be verified"
          )
        )
      }
    }
  }
  for (const f of facts.signatureFindings) {
    if (!f.ok) out.push(violation("signatures", 30, "refuse", f.file, f.detail))
  }
  return out
}

const encryptionChecks = (policy: Policy, facts: ReleaseFacts): Array<Violation> =>
  policy.requireEncryption && !facts.files.some((f) => isEncryptedFile(f.path))
    ? [
        violation(
          "encryption",
          35,
          "policy",
          undefined,
          "encrypted artifacts are required but the release has no .enc file"
        )
      ]
    : []

const metadataChecks = (
  policy: Policy,
  facts: ReleaseFacts,
  notes: Array<string>
): Array<Violation> => {
  const out: Array<Violation> = []
  if (!facts.files.some((f) => isSbomFile(f.path))) {
    if (policy.requireSbom)
      out.push(violation("metadata", 33, "policy", undefined, "the policy requires an SBOM"))
    else notes.push("no SBOM in the release (*.cdx.json, *.spdx.json, bom.json, sbom*.json)")
  }
  if (!facts.files.some((f) => isProvenanceFile(f.path))) {
    if (policy.requireProvenance) {
      out.push(
        violation("metadata", 33, "policy", undefined, "the policy requires SLSA provenance")
      )
    } else notes.push("no SLSA provenance in the release (*.intoto.jsonl, *provenance*.json)")
  }
  return out
}

const ruleChecks = (policy: Policy, facts: ReleaseFacts): Array<Violation> => {
  const out: Array<Violation> = []
  if (policy.maxFiles !== undefined && facts.files.length > policy.maxFiles) {
    out.push(
      violation(
        "rules",
        ExitCode.PolicyViolation,
        "policy",
        undefined,
        `the release has ${facts.files.length} files; the policy allows ${policy.maxFiles}`
      )
    )
  }
  let total = 0
  for (const f of facts.files) {
    total += f.size
    if (policy.maxFileBytes !== undefined && f.size > policy.maxFileBytes) {
      out.push(
        violation(
          "rules",
          38,
          "policy",
          f.path,
          `${f.path}: ${f.size} bytes exceeds the policy's max_file_bytes ${policy.maxFileBytes}`
        )
      )
    }
    const ext = policy.forbiddenExtensions.find((e) =>
      f.path.toLowerCase().endsWith(e.toLowerCase())
    )
    if (ext !== undefined) {
      out.push(
        violation("rules", 38, "policy", f.path, `${f.path}: the policy forbids ${ext} files`)
      )
    }
  }
  if (policy.maxReleaseBytes !== undefined && total > policy.maxReleaseBytes) {
    out.push(
      violation(
        "rules",
        38,
        "policy",
        undefined,
        `the release has ${total} bytes; the policy's max_release_bytes is ` +
          `${policy.maxReleaseBytes}`
      )
    )
  }
  return out
}

/** Apply every check of the policy to the facts of a release. Pure. */
export const evaluate = (policy: Policy, facts: ReleaseFacts): Evaluation => {
  const notes: Array<string> = []
  const violations = [
    ...verificationChecks(policy, facts),
    ...validationChecks(policy, facts),
    ...manifestChecks(facts),
    ...signatureChecks(policy, facts),
    ...encryptionChecks(policy, facts),
    ...metadataChecks(policy, facts, notes),
    ...ruleChecks(policy, facts)
  ]
  return { violations, notes }
}
