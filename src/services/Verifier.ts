import { FileSystem } from "@effect/platform"
import { Clock, Context, Effect, Either, Layer, Option } from "effect"
import { evaluate, type ReleaseFacts, type SignatureFinding } from "../domain/Checks.ts"
import { UsageError } from "../domain/Errors.ts"
import { ExitCode } from "../domain/ExitCode.ts"
import {
  MANIFEST_JSON,
  parseManifestJson,
  parseSha256Sums,
  SHA256SUMS
} from "../domain/Manifest.ts"
import { defaultPolicy, type Policy, type PolicyMode } from "../domain/Policy.ts"
import {
  isEncryptedFile,
  isManifestMetadata,
  isProvenanceFile,
  isSbomFile,
  isSignatureFile
} from "../domain/ReleaseContent.ts"
import type { VerificationResult } from "../domain/Results.ts"
import { parseVersion, versionError } from "../domain/Version.ts"
import { checkAgeFile } from "../verify/Age.ts"
import { type SignatureKind, signatureOf, verifySignature } from "../verify/Files.ts"
import { type Finding, invalid, valid } from "../verify/Finding.ts"
import { verifyProvenance } from "../verify/Provenance.ts"
import { validateSbom } from "../verify/Sbom.ts"
import {
  emptyTrustedKeys,
  loadTrustedKeys,
  type TrustedKeyError,
  type TrustedKeys
} from "../verify/TrustedKeys.ts"
import type { Hasher } from "./Hasher.ts"
import { Limits, type Release, type ReleaseFile, ReleaseReader } from "./ReleaseReader.ts"

/**
 * What to verify. `policy` supplies the mode and the requirements (defaults:
 * strict, nothing required); `requireSignatures` adds to it.
 *
 * @category models
 */
export interface VerifyRequest {
  readonly dir: string
  /** When given, the manifest's version must match it. */
  readonly version?: string | undefined
  readonly trustedKeysDir?: string | undefined
  readonly expectedBuilderId?: string | undefined
  readonly expectedSourceRepository?: string | undefined
  readonly requireSignatures?: boolean | undefined
  readonly policy?: Policy | undefined
  /** The release as already read (publish reads it once for both). */
  readonly release?: Release | undefined
}

/**
 * One verdict of the report: a {@link Finding}, with the exit code it maps to
 * (0 when it passed) and whether the lenient policy may excuse it (`policy`)
 * or not (`refuse`).
 *
 * @category models
 */
export interface VerifyFinding extends Finding {
  readonly exit_code: ExitCode
  readonly severity: "refuse" | "policy"
}

/**
 * The verification result `relpub verify` writes and `publish
 * --verification-result` reads (VerificationResult, with relpub's findings).
 *
 * @category models
 */
export interface VerificationReport extends VerificationResult {
  readonly passed: boolean
  readonly timestamp: string
  readonly hash_verified: boolean
  readonly signature_verified: boolean
  readonly sbom_validated: boolean
  readonly slsa_validated: boolean
  readonly policy_passed: boolean
  readonly exit_code: ExitCode
  readonly policy_mode: PolicyMode
  readonly sbom_id: string | null
  readonly slsa_id: string | null
  readonly provenance_hash: string | null
  readonly trusted_keys: ReadonlyArray<string>
  readonly findings: ReadonlyArray<VerifyFinding>
  readonly warnings: ReadonlyArray<string>
}

/** @category models */
export interface VerifyOutcome {
  readonly result: VerificationReport
  /** One per signature file, for {@link ReleaseFacts.signatureFindings}. */
  readonly signatureFindings: ReadonlyArray<SignatureFinding>
  /** The failed findings that decide, in DESIGN.md's check order; the first sets the exit code. */
  readonly failures: ReadonlyArray<VerifyFinding>
  readonly exitCode: ExitCode
  readonly release: Release
}

export type VerifyError = UsageError | TrustedKeyError

/** @category models */
export interface VerifierShape {
  readonly verify: (request: VerifyRequest) => Effect.Effect<VerifyOutcome, VerifyError>
}

/**
 * relpub's own verification of a release directory: hashes, signatures, SBOM,
 * provenance and encrypted files (docs/verification.md).
 *
 * @category tags
 */
export class Verifier extends Context.Tag("relpub/services/Verifier")<Verifier, VerifierShape>() {}

type Requirements = ReleaseReader | Hasher | FileSystem.FileSystem

// The stage of a finding in DESIGN.md's check order; the first failing stage sets the exit code.
const STAGES: Readonly<Record<Finding["check"], number>> = {
  hash: 0,
  signature: 1,
  encryption: 2,
  sbom: 3,
  provenance: 3
}

/** The exit code a failed finding maps to (docs/verification.md, "Exit codes"). */
export const exitCodeFor = (f: Finding): ExitCode => {
  if (f.ok) return ExitCode.Success
  switch (f.check) {
    case "hash":
      return f.reason === "digest-mismatch" ? ExitCode.VerificationFailed : ExitCode.MetadataMissing
    case "signature":
      return f.reason === "unsigned" ? ExitCode.SignatureRequired : ExitCode.VerificationFailed
    case "encryption":
      return ExitCode.EncryptionRequired
    case "sbom":
      return ExitCode.MetadataMissing
    case "provenance":
      return ["subject-missing", "builder-mismatch", "source-mismatch"].includes(f.reason)
        ? ExitCode.VerificationFailed
        : ExitCode.MetadataMissing
  }
}

const judged = (f: Finding, severity: VerifyFinding["severity"]): VerifyFinding => ({
  ...f,
  exit_code: exitCodeFor(f),
  severity
})

// Failures the lenient policy may excuse: checks that could not be made, and
// metadata that is missing or not understood. Everything else is refused.
const severityOf = (f: Finding, keysLoaded: boolean): VerifyFinding["severity"] => {
  if (f.check === "signature") {
    return f.reason === "unsigned" ||
      f.reason === "unsupported-format" ||
      (f.reason === "unknown-key" && !keysLoaded)
      ? "policy"
      : "refuse"
  }
  if (f.check === "sbom") return "policy"
  if (f.check === "provenance") {
    return ["schema-invalid", "malformed", "unsupported-format"].includes(f.reason)
      ? "policy"
      : "refuse"
  }
  return f.reason === "subject-missing" ? "policy" : "refuse"
}

const keyIds = (keys: TrustedKeys): ReadonlyArray<string> => [
  ...keys.raw.map((k) => k.id),
  ...keys.pgp.map((k) => k.id),
  ...keys.minisign.map((k) => k.id)
]

// The keys a signature of this kind was checked against, so a failure names them.
const triedKeys = (kind: SignatureKind, keys: TrustedKeys): string | undefined => {
  const ids =
    kind === "openpgp"
      ? keys.pgp.map((k) => k.id)
      : kind === "minisign"
        ? keys.minisign.map((k) => k.id)
        : kind === "raw"
          ? [...keys.raw, ...keys.pgp].map((k) => k.id)
          : keys.raw.map((k) => k.id)
  return ids.length === 0 ? undefined : ids.join(", ")
}

const readWhole = (file: ReleaseFile) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFile(file.absolutePath)).pipe(Effect.either)

// At most `limit` bytes from the start of a file.
const readPrefix = (file: ReleaseFile, limit: number) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    Effect.scoped(
      Effect.flatMap(fs.open(file.absolutePath), (h) => h.readAlloc(FileSystem.Size(limit)))
    )
  ).pipe(Effect.map(Option.getOrElse(() => new Uint8Array(0))), Effect.either)

const ARMOR = "-----BEGIN AGE"
// Far more than any age header: stanzas are a few hundred bytes each.
const AGE_HEADER_BYTES = 1024 * 1024

const unreadable = (file: string, check: Finding["check"], e: unknown) =>
  invalid(file, check, "malformed", `${file}: cannot be read (${String(e)})`)

const tooLarge = (file: ReleaseFile, check: Finding["check"]) =>
  invalid(
    file.path,
    check,
    "malformed",
    `${file.path}: ${file.size} bytes is over the ${Limits.metadataBytes}-byte limit`
  )

interface Inputs {
  readonly release: Release
  readonly facts: ReleaseFacts
  readonly policy: Policy
  readonly keys: TrustedKeys
  readonly keysLoaded: boolean
  readonly request: VerifyRequest
}

// Hashes: the manifest checks publish makes (domain/Checks.ts), as findings.
const hashFindings = (ctx: Inputs): ReadonlyArray<VerifyFinding> => {
  const m = ctx.facts.manifest
  const listed = new Map(
    m._tag === "Valid" ? m.manifest.entries.map((e) => [e.path, e.sha256]) : []
  )
  // A file whose bytes differ from the manifest's is a digest mismatch (30), whatever its size.
  const changed = (file: string | undefined) => {
    const actual = file === undefined ? undefined : ctx.facts.hashes?.get(file)
    return actual !== undefined && listed.has(file!) && listed.get(file!) !== actual
  }
  const failed = evaluate(ctx.policy, ctx.facts)
    .violations.filter((v) => v.check === "manifest")
    .map((v): VerifyFinding => {
      const mismatch = v.exitCode === ExitCode.VerificationFailed || changed(v.file)
      return {
        ...invalid(v.file ?? ".", "hash", mismatch ? "digest-mismatch" : "malformed", v.message),
        exit_code: mismatch ? ExitCode.VerificationFailed : v.exitCode,
        severity: v.severity
      }
    })
  if (failed.length > 0 || m._tag !== "Valid") return failed
  const also =
    m.manifest.source === MANIFEST_JSON && ctx.release.files.some((f) => f.path === SHA256SUMS)
      ? ` (and ${SHA256SUMS} agrees)`
      : ""
  const detail = `${m.manifest.entries.length} file(s) match ${m.manifest.source}${also}`
  return [judged(valid(m.manifest.source, "hash", detail), "refuse")]
}

// The paths a valid signature vouches for: its subject, and every file a signed manifest lists.
const coveredBy = (subject: string, bytes: Uint8Array): ReadonlyArray<string> => {
  if (subject !== MANIFEST_JSON && subject !== SHA256SUMS) return [subject]
  const text = Buffer.from(bytes).toString("utf8")
  const parsed = subject === MANIFEST_JSON ? parseManifestJson(text) : parseSha256Sums(text)
  return Either.isRight(parsed) ? [subject, ...parsed.right.entries.map((e) => e.path)] : [subject]
}

const signatureFindings = (ctx: Inputs) =>
  Effect.gen(function* () {
    const files = new Map(ctx.release.files.map((f) => [f.path, f]))
    const findings: Array<Finding> = []
    const covered = new Set<string>()
    for (const file of ctx.release.files.filter((f) => isSignatureFile(f.path))) {
      const sig = signatureOf(file.path)
      const subject = Option.isSome(sig) ? files.get(sig.value.subject) : undefined
      if (Option.isNone(sig) || subject === undefined) {
        findings.push(
          invalid(
            file.path,
            "signature",
            "malformed",
            `${file.path}: the file it signs is not in the release`
          )
        )
        continue
      }
      const signature = yield* readWhole(file)
      const data = yield* readWhole(subject)
      if (Either.isLeft(signature) || Either.isLeft(data)) {
        const cause = Either.isLeft(signature)
          ? signature.left
          : Either.isLeft(data)
            ? data.left
            : ""
        findings.push(unreadable(file.path, "signature", cause))
        continue
      }
      const finding = yield* verifySignature(
        file.path,
        sig.value.kind,
        data.right,
        signature.right,
        ctx.keys
      )
      const key = finding.key ?? (finding.ok ? undefined : triedKeys(sig.value.kind, ctx.keys))
      findings.push(key === undefined ? finding : { ...finding, key })
      if (finding.ok) for (const p of coveredBy(subject.path, data.right)) covered.add(p)
    }

    const required = ctx.policy.requireSignatures || ctx.request.requireSignatures === true
    if (required && findings.length === 0) {
      findings.push(
        invalid(
          ".",
          "signature",
          "unsigned",
          "signatures are required but the release has no .sig, .asc, .minisig or " +
            ".sigstore.json file"
        )
      )
    } else if (required) {
      const unsigned = ctx.release.files.filter(
        (f) => !isSignatureFile(f.path) && !isManifestMetadata(f.path) && !covered.has(f.path)
      )
      for (const f of unsigned) {
        findings.push(
          invalid(
            f.path,
            "signature",
            "unsigned",
            `${f.path}: no valid signature covers it (detached, or over ${MANIFEST_JSON} / ` +
              `${SHA256SUMS})`
          )
        )
      }
    }
    return findings
  })

const encryptionFindings = (ctx: Inputs) =>
  Effect.gen(function* () {
    const findings: Array<Finding> = []
    const encrypted = ctx.release.files.filter((f) => isEncryptedFile(f.path))
    for (const file of encrypted) {
      // Only the header is checked, so a binary file's payload is not read; armor needs it all.
      const head = yield* readPrefix(file, 64)
      const armored =
        Either.isRight(head) &&
        Buffer.from(head.right).toString("latin1").trimStart().startsWith(ARMOR)
      if (armored && file.size > Limits.metadataBytes) {
        findings.push(tooLarge(file, "encryption"))
        continue
      }
      const bytes = yield* readPrefix(file, armored ? Limits.metadataBytes : AGE_HEADER_BYTES)
      findings.push(
        Either.isLeft(bytes)
          ? unreadable(file.path, "encryption", bytes.left)
          : yield* checkAgeFile(file.path, bytes.right)
      )
    }
    if (ctx.policy.requireEncryption && encrypted.length === 0) {
      findings.push(
        invalid(
          ".",
          "encryption",
          "subject-missing",
          "encrypted artifacts are required but the release has no .enc file"
        )
      )
    }
    return findings
  })

const sbomFindings = (ctx: Inputs) =>
  Effect.gen(function* () {
    const findings: Array<Finding> = []
    let sbomId: string | undefined
    const sboms = ctx.release.files.filter((f) => isSbomFile(f.path))
    for (const file of sboms) {
      if (file.size > Limits.metadataBytes) {
        findings.push(tooLarge(file, "sbom"))
        continue
      }
      const bytes = yield* readWhole(file)
      if (Either.isLeft(bytes)) {
        findings.push(unreadable(file.path, "sbom", bytes.left))
        continue
      }
      const report = yield* validateSbom(file.path, bytes.right)
      findings.push(report.finding)
      if (report.finding.ok) sbomId ??= Option.getOrUndefined(report.sbomId)
    }
    if (ctx.policy.requireSbom && sboms.length === 0) {
      findings.push(invalid(".", "sbom", "subject-missing", "the policy requires an SBOM"))
    }
    return { findings, sbomId }
  })

const provenanceFindings = (ctx: Inputs) =>
  Effect.gen(function* () {
    const findings: Array<VerifyFinding> = []
    let slsaId: string | undefined
    let provenanceHash: string | undefined
    const provenance = ctx.release.files.filter((f) => isProvenanceFile(f.path))
    // Artifacts: every file but manifests, signatures and provenance itself.
    const artifacts = ctx.release.files
      .filter(
        (f) => !isManifestMetadata(f.path) && !isSignatureFile(f.path) && !isProvenanceFile(f.path)
      )
      .flatMap((f) => {
        const digest = ctx.release.digests.get(f.path)
        return digest === undefined ? [] : [{ path: f.path, sha256: digest.sha256 }]
      })
    for (const file of provenance) {
      if (file.size > Limits.metadataBytes) {
        findings.push(judged(tooLarge(file, "provenance"), "policy"))
        continue
      }
      const bytes = yield* readWhole(file)
      if (Either.isLeft(bytes)) {
        findings.push(judged(unreadable(file.path, "provenance", bytes.left), "refuse"))
        continue
      }
      const report = yield* verifyProvenance(file.path, bytes.right, {
        keys: ctx.keys.raw,
        artifacts,
        requireSignature: ctx.policy.requireSignatures || ctx.request.requireSignatures === true,
        ...(ctx.request.expectedBuilderId
          ? { expectedBuilderId: ctx.request.expectedBuilderId }
          : {}),
        ...(ctx.request.expectedSourceRepository
          ? { expectedSourceRepository: ctx.request.expectedSourceRepository }
          : {})
      })
      // Subjects missing only because the envelope could not be verified follow its severity.
      const signature = report.findings.filter((f) => f.check === "signature" && !f.ok)
      const signatureSeverity = signature.some((f) => severityOf(f, ctx.keysLoaded) === "refuse")
        ? "refuse"
        : "policy"
      for (const f of report.findings) {
        const severity =
          f.reason === "subject-missing" && signature.length > 0
            ? signatureSeverity
            : severityOf(f, ctx.keysLoaded)
        const key =
          f.key ?? (f.check === "signature" && !f.ok ? triedKeys("raw", ctx.keys) : undefined)
        findings.push(judged(key === undefined ? f : { ...f, key }, severity))
      }
      if (Option.isSome(report.slsaId) && slsaId === undefined) {
        slsaId = report.slsaId.value
        provenanceHash = report.provenanceHash
      }
    }
    if (ctx.policy.requireProvenance && provenance.length === 0) {
      findings.push(
        judged(
          invalid(".", "provenance", "subject-missing", "the policy requires SLSA provenance"),
          "policy"
        )
      )
    }
    return { findings, slsaId, provenanceHash, files: provenance.map((f) => f.path) }
  })

const allPassed = (fs: ReadonlyArray<VerifyFinding>) => fs.length > 0 && fs.every((f) => f.ok)

const readRelease = (request: VerifyRequest, keysLoaded: boolean) =>
  Effect.gen(function* () {
    if (request.version !== undefined) {
      const parsed = parseVersion(request.version)
      if (Either.isLeft(parsed))
        return yield* new UsageError({ message: versionError(parsed.left) })
    }
    const reader = yield* ReleaseReader
    const release =
      request.release ?? (yield* reader.read({ dir: request.dir, version: request.version ?? "" }))
    const m = release.facts.manifest
    const version = request.version ?? (m._tag === "Valid" ? m.manifest.version : undefined) ?? ""
    return { release, facts: { ...release.facts, version, trustedKeysGiven: keysLoaded } }
  })

/**
 * Verifies a release directory as a publish would (docs/verification.md):
 * every file against manifest.json / SHA256SUMS, detached signatures against
 * the trusted keys only, SBOMs, SLSA provenance (DSSE signature, subjects,
 * builder, source) and age headers of `.enc` files. The exit code is that of
 * the first failure in DESIGN.md's check order.
 *
 * @category constructors
 */
export const verifyRelease = (
  request: VerifyRequest
): Effect.Effect<VerifyOutcome, VerifyError, Requirements> =>
  Effect.gen(function* () {
    const keys =
      request.trustedKeysDir === undefined
        ? emptyTrustedKeys
        : yield* loadTrustedKeys(request.trustedKeysDir)
    const keysLoaded = keyIds(keys).length > 0 || Option.isSome(keys.sigstoreRoot)
    const { facts, release } = yield* readRelease(request, keysLoaded)
    const policy = request.policy ?? defaultPolicy("strict")
    const ctx: Inputs = { release, facts, policy, keys, keysLoaded, request }

    const hashes = hashFindings(ctx)
    const signatures = (yield* signatureFindings(ctx)).map((f) =>
      judged(f, severityOf(f, keysLoaded))
    )
    const encryption = (yield* encryptionFindings(ctx)).map((f) =>
      judged(f, severityOf(f, keysLoaded))
    )
    const sbom = yield* sbomFindings(ctx)
    const sboms = sbom.findings.map((f) => judged(f, severityOf(f, keysLoaded)))
    const provenance = yield* provenanceFindings(ctx)

    const findings = [...hashes, ...signatures, ...encryption, ...sboms, ...provenance.findings]
    const failures = findings
      .filter((f) => !f.ok && (f.severity === "refuse" || policy.mode === "strict"))
      .map((f, i) => ({ f, i }))
      .sort((a, b) => STAGES[a.f.check] - STAGES[b.f.check] || a.i - b.i)
      .map(({ f }) => f)
    const excused = findings.filter((f) => !f.ok && !failures.includes(f)).map((f) => f.detail)
    const notes = evaluate({ ...policy, requireSbom: false, requireProvenance: false }, facts).notes
    const exitCode = failures[0]?.exit_code ?? ExitCode.Success
    const onProvenance = (f: VerifyFinding) =>
      f.check === "provenance" || provenance.files.includes(f.file)

    const result: VerificationReport = {
      passed: failures.length === 0,
      timestamp: new Date(yield* Clock.currentTimeMillis).toISOString(),
      hash_verified: allPassed(hashes),
      signature_verified: allPassed([
        ...signatures,
        ...provenance.findings.filter((f) => f.check === "signature")
      ]),
      sbom_validated: allPassed(sboms),
      slsa_validated: allPassed(provenance.findings.filter(onProvenance)),
      policy_passed: failures.length === 0,
      exit_code: exitCode,
      policy_mode: policy.mode,
      sbom_id: sbom.sbomId ?? null,
      slsa_id: provenance.slsaId ?? null,
      provenance_hash: provenance.provenanceHash ?? null,
      trusted_keys: keyIds(keys),
      findings,
      warnings: [...excused, ...notes]
    }
    const signatureFacts = signatures
      .filter((f) => isSignatureFile(f.file))
      .map((f) => ({ file: f.file, ok: f.ok, detail: f.detail }))
    return { result, signatureFindings: signatureFacts, failures, exitCode, release }
  }).pipe(Effect.withSpan("Verifier.verifyRelease"))

/** The verifier on the release reader and the platform file system. */
export const layer: Layer.Layer<Verifier, never, Requirements> = Layer.effect(
  Verifier,
  Effect.map(Effect.context<Requirements>(), (context) => ({
    verify: (request) => Effect.provide(verifyRelease(request), context)
  }))
)
