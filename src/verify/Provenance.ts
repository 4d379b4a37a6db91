import { Array as Arr, Effect, Option } from "effect"
import {
  type Envelope,
  IN_TOTO_PAYLOAD_TYPE,
  parseEnvelope,
  payloadOf,
  verifyEnvelope
} from "./Dsse.ts"
import { type Finding, FormatError, fromFormatError, invalid, sha256Hex, valid } from "./Finding.ts"
import { decode, slsaFacts, Statement } from "./Statement.ts"
import type { RawPublicKey } from "./TrustedKeys.ts"

const SLSA_PREFIX = "https://slsa.dev/provenance/"

const bad = (reason: FormatError["reason"], detail: string) =>
  new FormatError({ format: "provenance", reason, detail })

/** One statement of a provenance file, with the DSSE envelope that carried it. */
export interface ProvenanceEntry {
  readonly statement: Statement
  readonly envelope: Envelope | undefined
}

const entryOf = (json: unknown): Effect.Effect<ProvenanceEntry, FormatError> =>
  Effect.gen(function* () {
    const obj = (json ?? {}) as Record<string, unknown>
    // A Sigstore bundle carrying a DSSE envelope (e.g. GitHub artifact attestations).
    const bundle = String(obj.mediaType).startsWith("application/vnd.dev.sigstore.bundle")
    const inner = bundle && obj.dsseEnvelope !== undefined ? obj.dsseEnvelope : obj
    if (typeof (inner as Record<string, unknown>).payloadType !== "string") {
      const statement = yield* decode(Statement, inner, "in-toto statement")
      return { statement, envelope: undefined }
    }
    const envelope = yield* parseEnvelope(inner)
    if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
      return yield* bad("unsupported-format", `DSSE payload type ${envelope.payloadType}`)
    }
    const text = Buffer.from(yield* payloadOf(envelope)).toString("utf8")
    const payload = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: () => bad("malformed", "the DSSE payload is not JSON")
    })
    return { statement: yield* decode(Statement, payload, "in-toto statement"), envelope }
  })

/**
 * Reads a provenance file: a plain in-toto statement, a DSSE envelope, a
 * Sigstore bundle with a DSSE envelope, or `.intoto.jsonl` (one per line).
 */
export const parseProvenance = (
  bytes: Uint8Array
): Effect.Effect<ReadonlyArray<ProvenanceEntry>, FormatError> =>
  Effect.gen(function* () {
    const text = Buffer.from(bytes).toString("utf8").trim()
    const whole = yield* Effect.option(Effect.try(() => JSON.parse(text) as unknown))
    const docs = Option.isSome(whole)
      ? [whole.value]
      : yield* Effect.forEach(
          text.split("\n").filter((l) => l.trim() !== ""),
          (line, i) =>
            Effect.try({
              try: () => JSON.parse(line) as unknown,
              catch: () => bad("malformed", `line ${i + 1} is not JSON`)
            })
        )
    if (docs.length === 0) return yield* bad("malformed", "empty file")
    return yield* Effect.forEach(docs, entryOf)
  })

// "git+https://user@host/owner/repo.git@refs/heads/main" and "git@host:owner/repo"
// both become "host/owner/repo".
const normalizeRepo = (uri: string): string =>
  uri
    .trim()
    .toLowerCase()
    .replace(/^git\+/, "")
    .replace(/^[a-z]+:\/\//, "")
    .replace(/^[^/@:]+@/, "")
    .replace(/^([^/:]+):(?!\d)/, "$1/")
    .replace(/[?#].*$/, "")
    .replace(/@.*$/, "")
    .replace(/\/+$/, "")
    .replace(/\.git$/, "")

/**
 * True when a provenance source URI names the expected repository. An
 * expectation without a host ("owner/repo") matches that path on any host.
 */
export const sameRepository = (uri: string, expected: string): boolean => {
  const a = normalizeRepo(uri)
  const b = normalizeRepo(expected)
  const hasHost = b.split("/")[0]!.includes(".")
  return b !== "" && (a === b || (!hasHost && a.slice(a.indexOf("/") + 1) === b))
}

/** @category models */
export interface ProvenanceOptions {
  readonly keys: ReadonlyArray<RawPublicKey>
  /** Every artifact must appear among the subjects with this SHA-256 (hex). */
  readonly artifacts: ReadonlyArray<{ readonly path: string; readonly sha256: string }>
  /** Fail a statement that is not in a DSSE envelope (default: false). */
  readonly requireSignature?: boolean
  readonly expectedBuilderId?: string
  readonly expectedSourceRepository?: string
}

/** @category models */
export interface ProvenanceReport {
  readonly findings: ReadonlyArray<Finding>
  /**
   * runDetails.metadata.invocationId (v1), metadata.buildInvocationId (v0.2),
   * else `<predicateType>#<builder id>`.
   */
  readonly slsaId: Option.Option<string>
  /** Hex SHA-256 of the provenance file's bytes. */
  readonly provenanceHash: string
  readonly entries: ReadonlyArray<ProvenanceEntry>
}

/**
 * Checks a provenance file: DSSE signatures against the trusted keys, that
 * it is SLSA provenance, that every artifact is a subject, and the expected
 * builder and source repository when given.
 *
 * @category verifiers
 */
export const verifyProvenance = (
  file: string,
  bytes: Uint8Array,
  options: ProvenanceOptions
): Effect.Effect<ProvenanceReport> =>
  Effect.gen(function* () {
    const provenanceHash = sha256Hex(bytes)
    const parsed = yield* Effect.either(parseProvenance(bytes))
    if (parsed._tag === "Left") {
      const findings = [fromFormatError(file, "provenance", parsed.left)]
      const none: ProvenanceReport = {
        findings,
        slsaId: Option.none(),
        provenanceHash,
        entries: []
      }
      return none
    }
    const entries = parsed.right
    const findings: Array<Finding> = []
    // Subjects count only from statements whose signature verified, or that
    // are unsigned when no signature is required.
    const usable = new Set<ProvenanceEntry>()
    for (const e of entries) {
      if (e.envelope !== undefined) {
        const signature = yield* verifyEnvelope(file, e.envelope, options.keys)
        findings.push(signature)
        if (signature.ok) usable.add(e)
      } else if (options.requireSignature === true) {
        const detail = `${file}: statement is not in a DSSE envelope`
        findings.push(invalid(file, "signature", "unsigned", detail))
      } else {
        usable.add(e)
      }
    }

    const slsa = entries.filter((e) => e.statement.predicateType.startsWith(SLSA_PREFIX))
    if (slsa.length === 0) {
      const types = entries.map((e) => e.statement.predicateType).join(", ")
      const detail = `${file}: no SLSA provenance (${types})`
      findings.push(invalid(file, "provenance", "unsupported-format", detail))
      return { findings, slsaId: Option.none(), provenanceHash, entries } satisfies ProvenanceReport
    }
    const facts = yield* Effect.forEach(slsa, (e) => Effect.either(slsaFacts(e.statement)))
    const before = findings.length
    for (const f of Arr.getLefts(facts)) findings.push(fromFormatError(file, "provenance", f))
    const ok = Arr.getRights(facts)

    const digests = new Set(
      slsa
        .filter((e) => usable.has(e))
        .flatMap((e) => e.statement.subject.map((s) => s.digest.sha256?.toLowerCase()))
    )
    for (const a of options.artifacts) {
      if (!digests.has(a.sha256.toLowerCase())) {
        findings.push(
          invalid(
            file,
            "provenance",
            "subject-missing",
            `${file}: ${a.path} (sha256 ${a.sha256}) is not a subject of verified provenance`
          )
        )
      }
    }
    const builder = options.expectedBuilderId
    if (builder !== undefined && ok.some((f) => f.builderId !== builder)) {
      const seen = [...new Set(ok.map((f) => f.builderId))].join(", ")
      findings.push(
        invalid(
          file,
          "provenance",
          "builder-mismatch",
          `${file}: built by ${seen}, expected ${builder}`
        )
      )
    }
    const repo = options.expectedSourceRepository
    if (repo !== undefined && ok.some((f) => !f.sourceUris.some((u) => sameRepository(u, repo)))) {
      const seen = [...new Set(ok.flatMap((f) => f.sourceUris))].join(", ") || "no source"
      const detail = `${file}: built from ${seen}, expected ${repo}`
      findings.push(invalid(file, "provenance", "source-mismatch", detail))
    }
    if (findings.slice(before).length === 0) {
      findings.push(
        valid(
          file,
          "provenance",
          `${file}: SLSA provenance by ${ok.map((f) => f.builderId).join(", ")} covers ` +
            `${options.artifacts.length} artifact(s)`
        )
      )
    }

    const first = ok[0]
    const slsaId =
      first === undefined
        ? Option.none()
        : Option.some(
            first.invocationId ?? `${slsa[0]!.statement.predicateType}#${first.builderId}`
          )
    return { findings, slsaId, provenanceHash, entries } satisfies ProvenanceReport
  })
