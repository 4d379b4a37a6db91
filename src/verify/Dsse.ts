import { Effect, Either, ParseResult, Schema } from "effect"
import { type Finding, FormatError, invalid, valid } from "./Finding.ts"
import { type SigningKey, signWith, verifyWithKey } from "./RawSignature.ts"
import { matchesHint, type RawPublicKey } from "./TrustedKeys.ts"

/** The DSSE payload type of in-toto statements. */
export const IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"

/**
 * DSSE pre-authentication encoding (DSSE protocol.md, "Signature definition"):
 * "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, LEN in bytes, in decimal.
 */
export const pae = (payloadType: string, payload: Uint8Array): Uint8Array => {
  const type = Buffer.from(payloadType, "utf8")
  const head = `DSSEv1 ${type.length} ${payloadType} ${payload.length} `
  return new Uint8Array(Buffer.concat([Buffer.from(head, "utf8"), payload]))
}

/**
 * A DSSE envelope (DSSE envelope.md). Extra fields, such as the `cert` some
 * signers add to a signature, are ignored.
 *
 * @category models
 */
export const Envelope = Schema.Struct({
  payloadType: Schema.String,
  payload: Schema.String,
  signatures: Schema.NonEmptyArray(
    Schema.Struct({
      keyid: Schema.optional(Schema.String),
      sig: Schema.String
    })
  )
})
export type Envelope = typeof Envelope.Type

// DSSE allows standard or URL-safe base64, padded or not.
const decodeBase64 = (text: string): Either.Either<Uint8Array, string> => {
  const clean = text.replace(/=+$/, "")
  if (!/^[A-Za-z0-9+/]*$/.test(clean) && !/^[A-Za-z0-9_-]*$/.test(clean)) {
    return Either.left("not base64")
  }
  const urlSafe = clean.includes("-") || clean.includes("_")
  const bytes = Buffer.from(clean, urlSafe ? "base64url" : "base64")
  return Either.right(new Uint8Array(bytes))
}

const malformed = (detail: string) =>
  new FormatError({ format: "DSSE", reason: "malformed", detail })

/** Parses a DSSE envelope from JSON text (a string) or an already decoded JSON value. */
export const parseEnvelope = (input: unknown): Effect.Effect<Envelope, FormatError> =>
  Effect.gen(function* () {
    const json =
      typeof input === "string"
        ? yield* Effect.try({
            try: () => JSON.parse(input) as unknown,
            catch: (e) => malformed(String(e))
          })
        : input
    const envelope = yield* Schema.decodeUnknown(Envelope)(json).pipe(
      Effect.mapError((e) => malformed(ParseResult.TreeFormatter.formatErrorSync(e)))
    )
    yield* payloadOf(envelope)
    return envelope
  })

/** The payload bytes of an envelope. */
export const payloadOf = (envelope: Envelope): Effect.Effect<Uint8Array, FormatError> =>
  Either.match(decodeBase64(envelope.payload), {
    onLeft: () => Effect.fail(malformed("the payload is not base64")),
    onRight: Effect.succeed
  })

/**
 * Signs a payload into a one-signature envelope; the signature covers
 * PAE(payloadType, payload), never the payload alone.
 *
 * @category constructors
 */
export const signEnvelope = (
  payloadType: string,
  payload: Uint8Array,
  key: SigningKey
): Envelope => ({
  payloadType,
  payload: Buffer.from(payload).toString("base64"),
  signatures: [
    {
      keyid: key.publicKey.id,
      sig: Buffer.from(signWith(key, pae(payloadType, payload))).toString("base64")
    }
  ]
})

/**
 * The trusted key that made one of the envelope's signatures, if any. Keys
 * named by a signature's (unauthenticated) keyid are tried first.
 */
export const findSigner = (
  envelope: Envelope,
  payload: Uint8Array,
  keys: ReadonlyArray<RawPublicKey>
): RawPublicKey | undefined => {
  const message = pae(envelope.payloadType, payload)
  for (const s of envelope.signatures) {
    const sig = decodeBase64(s.sig)
    if (Either.isLeft(sig)) continue
    const hint = s.keyid ?? ""
    const named = keys.filter((k) => matchesHint(k, hint))
    const ordered = [...named, ...keys.filter((k) => !named.includes(k))]
    const signer = ordered.find((k) => verifyWithKey(k, message, sig.right))
    if (signer !== undefined) return signer
  }
  return undefined
}

/**
 * Verifies a DSSE envelope: at least one signature must be made by a trusted
 * key over PAE(payloadType, payload).
 *
 * @category verifiers
 */
export const verifyEnvelope = (
  file: string,
  envelope: Envelope,
  keys: ReadonlyArray<RawPublicKey>
): Effect.Effect<Finding> =>
  Effect.gen(function* () {
    const payload = yield* payloadOf(envelope)
    const signer = findSigner(envelope, payload, keys)
    if (signer !== undefined) {
      const by = `${signer.id} (${signer.file})`
      const detail = `${file}: DSSE signature by ${by} over ${envelope.payloadType}`
      return valid(file, "signature", detail, signer.id)
    }
    const named = envelope.signatures.flatMap((s) => (s.keyid ? [s.keyid] : []))
    const known = named.some((hint) => keys.some((k) => matchesHint(k, hint)))
    if (keys.length === 0 || (named.length > 0 && !known)) {
      const by = named.join(", ") || "an unnamed key"
      return invalid(
        file,
        "signature",
        "unknown-key",
        `${file}: DSSE envelope signed by ${by}, not a trusted key`
      )
    }
    return invalid(
      file,
      "signature",
      "bad-signature",
      `${file}: no DSSE signature verifies with a trusted key`
    )
  }).pipe(
    Effect.catchTag("FormatError", (e) =>
      Effect.succeed(invalid(file, "signature", "malformed", `${file}: ${e.detail}`))
    )
  )
