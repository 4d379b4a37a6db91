import { type Bundle, bundleFromJSON } from "@sigstore/bundle"
import { HashAlgorithm, TrustedRoot } from "@sigstore/protobuf-specs"
import {
  PolicyError,
  toSignedEntity,
  toTrustMaterial,
  VerificationError,
  Verifier
} from "@sigstore/verify"
import { Effect } from "effect"
import { findSigner, parseEnvelope, payloadOf } from "./Dsse.ts"
import { type Finding, fromFormatError, invalid, type Reason, sha256Hex, valid } from "./Finding.ts"
import { verifyWithKey } from "./RawSignature.ts"
import { matchesHint, type RawPublicKey } from "./TrustedKeys.ts"

/** @category models */
export interface SigstoreOptions {
  /** Trusted PEM keys, for bundles whose verification material is a public key. */
  readonly keys: ReadonlyArray<RawPublicKey>
  /** The parsed `trusted_root.json`, needed for certificate (Fulcio) bundles. */
  readonly trustedRoot?: unknown
  /** Exact certificate identity (SAN) and OIDC issuer a certificate bundle must have. */
  readonly identity?: { readonly subjectAlternativeName?: string; readonly issuer?: string }
  /** Minimum transparency-log entries, SCTs and verified timestamps (default 1 each). */
  readonly thresholds?: {
    readonly tlog?: number
    readonly ctlog?: number
    readonly timestamp?: number
  }
}

type Json = Record<string, unknown>

const EMPTY_ROOT = {
  mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
  tlogs: [],
  certificateAuthorities: [],
  ctlogs: [],
  timestampAuthorities: []
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e))
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

// The in-toto subjects of a DSSE payload must include the artifact's SHA-256.
const coversArtifact = (payload: Uint8Array, digest: string): boolean => {
  try {
    const statement = JSON.parse(Buffer.from(payload).toString("utf8")) as {
      subject?: ReadonlyArray<{ digest?: { sha256?: string } }>
    }
    return (statement.subject ?? []).some((s) => s.digest?.sha256?.toLowerCase() === digest)
  } catch {
    return false
  }
}

// ECDSA message signatures go through @sigstore/verify. It mishandles Ed25519
// (passes "sha256") and RSA-PSS (ignores the padding), and fails DSSE with EC
// and RSA keys under Deno, so those are checked here.
const signedBy = (json: Json, bundle: Bundle, artifact: Uint8Array, key: RawPublicKey) =>
  Effect.gen(function* () {
    if (bundle.content.$case === "dsseEnvelope") {
      const envelope = yield* parseEnvelope(json.dsseEnvelope)
      return findSigner(envelope, yield* payloadOf(envelope), [key]) !== undefined
    }
    if (key.algorithm !== "ecdsa-p256") {
      return verifyWithKey(key, artifact, bundle.content.messageSignature.signature)
    }
    return yield* Effect.try(() => {
      const material = toTrustMaterial(TrustedRoot.fromJSON(EMPTY_ROOT), () => ({
        publicKey: key.key,
        validFor: () => true
      }))
      const verifier = new Verifier(material, {
        tlogThreshold: 0,
        ctlogThreshold: 0,
        timestampThreshold: 0
      })
      const signed = toSignedEntity(bundle, Buffer.from(artifact))
      verifier.verify({ ...signed, tlogEntries: [], timestamps: [] })
    }).pipe(
      Effect.as(true),
      Effect.orElseSucceed(() => false)
    )
  })

const verifyPublicKeyBundle = (
  file: string,
  json: Json,
  bundle: Bundle,
  artifact: Uint8Array,
  keys: ReadonlyArray<RawPublicKey>,
  hint: string
) =>
  Effect.gen(function* () {
    const named = keys.filter((k) => matchesHint(k, hint))
    for (const key of [...named, ...keys.filter((k) => !named.includes(k))]) {
      if (yield* signedBy(json, bundle, artifact, key)) {
        const tlog =
          bundle.verificationMaterial.tlogEntries.length > 0
            ? "; its transparency-log entries were not checked"
            : ""
        const detail = `${file}: Sigstore bundle signed by ${key.id} (${key.file})${tlog}`
        return valid(file, "signature", detail, key.id)
      }
    }
    return named.length > 0
      ? invalid(
          file,
          "signature",
          "bad-signature",
          `${file}: signature by ${hint} does not verify`,
          named[0]!.id
        )
      : invalid(
          file,
          "signature",
          "unknown-key",
          `${file}: signed by key "${hint}", which is not trusted`
        )
  })

const certificateReason = (e: unknown): Exclude<Reason, "valid"> => {
  if (e instanceof PolicyError) return "identity-mismatch"
  const untrusted =
    e instanceof VerificationError &&
    (e.code === "CERTIFICATE_ERROR" || e.code === "PUBLIC_KEY_ERROR")
  return untrusted ? "unknown-key" : "bad-signature"
}

const verifyCertificateBundle = (
  file: string,
  bundle: Bundle,
  artifact: Uint8Array,
  options: SigstoreOptions
) =>
  Effect.gen(function* () {
    if (options.trustedRoot === undefined) {
      return invalid(
        file,
        "signature",
        "unknown-key",
        `${file}: a certificate bundle needs a Sigstore trusted root (trusted_root.json)`
      )
    }
    const trustedRoot = options.trustedRoot
    const material = yield* Effect.either(
      Effect.try(() => toTrustMaterial(TrustedRoot.fromJSON(trustedRoot)))
    )
    if (material._tag === "Left") {
      return invalid(
        file,
        "signature",
        "unknown-key",
        `${file}: the Sigstore trusted root is unusable: ${message(material.left.error)}`
      )
    }
    const verifier = new Verifier(material.right, {
      tlogThreshold: options.thresholds?.tlog ?? 1,
      ctlogThreshold: options.thresholds?.ctlog ?? 1,
      timestampThreshold: options.thresholds?.timestamp ?? 1
    })
    const san = options.identity?.subjectAlternativeName
    const issuer = options.identity?.issuer
    const policy = {
      ...(san !== undefined ? { subjectAlternativeName: `^${escapeRegExp(san)}$` } : {}),
      ...(issuer !== undefined ? { extensions: { issuer } } : {})
    }
    const result = yield* Effect.either(
      Effect.try({
        try: () => verifier.verify(toSignedEntity(bundle, Buffer.from(artifact)), policy),
        catch: (e) => e
      })
    )
    if (result._tag === "Left") {
      return invalid(
        file,
        "signature",
        certificateReason(result.left),
        `${file}: Sigstore bundle does not verify: ${message(result.left)}`
      )
    }
    const who = result.right.identity?.subjectAlternativeName ?? "certificate"
    return valid(file, "signature", `${file}: Sigstore bundle signed by ${who}`, who)
  })

/**
 * Verifies a Sigstore bundle (`.sigstore.json`, v0.1-v0.3) over an artifact,
 * offline. Public-key bundles are checked against the trusted PEM keys
 * (signature only: their transparency-log entries are not checked);
 * certificate bundles against the trusted root with @sigstore/verify.
 *
 * @category verifiers
 */
export const verifySigstoreBundle = (
  file: string,
  bundleBytes: Uint8Array,
  artifact: Uint8Array,
  options: SigstoreOptions
): Effect.Effect<Finding> =>
  Effect.gen(function* () {
    const text = Buffer.from(bundleBytes).toString("utf8")
    const json = (yield* Effect.try(() => JSON.parse(text) as unknown)) as Json
    const bundle = yield* Effect.try(() => bundleFromJSON(json))
    const digest = sha256Hex(artifact)
    if (bundle.content.$case === "messageSignature") {
      const md = bundle.content.messageSignature.messageDigest
      if (md.algorithm !== HashAlgorithm.SHA2_256) {
        const detail = `${file}: message digest is not SHA2_256`
        return invalid(file, "signature", "unsupported-format", detail)
      }
      if (Buffer.from(md.digest).toString("hex") !== digest) {
        const detail = `${file}: the bundle's digest is not the file's`
        return invalid(file, "signature", "digest-mismatch", detail)
      }
    }

    const material = bundle.verificationMaterial.content
    const signed =
      material.$case === "publicKey"
        ? yield* verifyPublicKeyBundle(
            file,
            json,
            bundle,
            artifact,
            options.keys,
            material.publicKey.hint
          )
        : yield* verifyCertificateBundle(file, bundle, artifact, options)

    if (signed.ok && bundle.content.$case === "dsseEnvelope") {
      const payload = yield* payloadOf(yield* parseEnvelope(json.dsseEnvelope))
      if (!coversArtifact(payload, digest)) {
        const detail = `${file}: the attestation's subjects omit the file (sha256 ${digest})`
        return invalid(file, "signature", "subject-missing", detail, signed.key)
      }
    }
    return signed
  }).pipe(
    Effect.catchTags({
      FormatError: (e) => Effect.succeed(fromFormatError(file, "signature", e)),
      UnknownException: (e) =>
        Effect.succeed(
          invalid(
            file,
            "signature",
            "malformed",
            `${file}: not a Sigstore bundle: ${message(e.error)}`
          )
        )
    })
  )
