import { Effect, Schema } from "effect"
import {
  constants,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject
} from "node:crypto"
import { type Finding, invalid, valid } from "./Finding.ts"
import { type RawAlgorithm, type RawPublicKey, rawKeyFromKeyObject } from "./TrustedKeys.ts"

// RSA-PSS salt lengths. relpub signs with a salt as long as the digest (32
// bytes: what Sigstore, Go's PSSSaltLengthEqualsHash and `openssl dgst -sigopt
// rsa_pss_saltlen:32` use) and verifies with either 32 or the largest salt the
// modulus allows (RFC 8017 §9.1.1: emLen - hLen - 2; OpenSSL's "max", the salt
// `openssl dgst -sigopt rsa_padding_mode:pss` writes by default). Other salt
// lengths, including 0 and OpenSSL's "auto" detection, are not accepted.
const PSS_SALT = 32
const SHA256_LEN = 32

const maxPssSalt = (key: KeyObject): number =>
  Math.ceil(((key.asymmetricKeyDetails?.modulusLength ?? 0) - 1) / 8) - SHA256_LEN - 2

const attempt = (f: () => boolean): boolean => {
  try {
    return f()
  } catch {
    return false
  }
}

/**
 * Verifies `signature` over `data` with one trusted key, using the scheme of
 * the key. ECDSA signatures may be DER or IEEE-P1363 (r || s).
 *
 * Digests are always passed explicitly ("sha256" for ECDSA and RSA, null for
 * Ed25519): Deno's node:crypto has no default digest for EC and RSA keys.
 */
export const verifyWithKey = (
  key: RawPublicKey,
  data: Uint8Array,
  signature: Uint8Array
): boolean => {
  switch (key.algorithm) {
    case "ed25519":
      return attempt(() => cryptoVerify(null, data, key.key, signature))
    case "ecdsa-p256":
      return (
        attempt(() =>
          cryptoVerify("sha256", data, { key: key.key, dsaEncoding: "der" }, signature)
        ) ||
        (signature.length === 64 &&
          attempt(() =>
            cryptoVerify("sha256", data, { key: key.key, dsaEncoding: "ieee-p1363" }, signature)
          ))
      )
    case "rsa-pss-sha256":
      return [PSS_SALT, maxPssSalt(key.key)].some((saltLength) =>
        attempt(() =>
          cryptoVerify(
            "sha256",
            data,
            {
              key: key.key,
              padding: constants.RSA_PKCS1_PSS_PADDING,
              saltLength
            },
            signature
          )
        )
      )
  }
}

const BASE64_TEXT = /^[A-Za-z0-9+/_-]+={0,2}$/

/**
 * The readings of a `.sig` file: its bytes as they are, and, when the file is
 * base64 text (standard or URL-safe, possibly wrapped), the decoded bytes.
 */
export const signatureCandidates = (sig: Uint8Array): ReadonlyArray<Uint8Array> => {
  const text = Buffer.from(sig).toString("latin1").replace(/\s+/g, "")
  if (!BASE64_TEXT.test(text)) return [sig]
  const urlSafe = text.includes("-") || text.includes("_")
  const decoded = Buffer.from(text, urlSafe ? "base64url" : "base64")
  return decoded.length > 0 ? [sig, new Uint8Array(decoded)] : [sig]
}

/**
 * Verifies a detached raw signature (`<file>.sig`) over the file's bytes,
 * trying every trusted PEM key.
 *
 * @category verifiers
 */
export const verifyRawSignature = (
  file: string,
  data: Uint8Array,
  sig: Uint8Array,
  keys: ReadonlyArray<RawPublicKey>
): Effect.Effect<Finding> =>
  Effect.sync(() => {
    if (keys.length === 0) {
      const detail = `${file}: no trusted PEM public key to check it`
      return invalid(file, "signature", "unknown-key", detail)
    }
    const candidates = signatureCandidates(sig)
    for (const key of keys) {
      if (candidates.some((c) => verifyWithKey(key, data, c))) {
        const detail = `${file}: ${key.algorithm} signature by ${key.id} (${key.file})`
        return valid(file, "signature", detail, key.id)
      }
    }
    const tried = keys.map((k) => k.id).join(", ")
    return invalid(
      file,
      "signature",
      "bad-signature",
      `${file}: signature does not verify with any trusted key (tried ${tried})`
    )
  })

/** @category errors */
export class SigningKeyError extends Schema.TaggedError<SigningKeyError>()("SigningKeyError", {
  reason: Schema.Literal("malformed", "unsupported-key"),
  detail: Schema.String
}) {
  override get message(): string {
    return `signing key: ${this.reason}: ${this.detail}`
  }
}

/**
 * A private key ready to sign, with its public half as it would be trusted.
 *
 * @category models
 */
export interface SigningKey {
  readonly algorithm: RawAlgorithm
  readonly privateKey: KeyObject
  readonly publicKey: RawPublicKey
  readonly publicKeyPem: string
}

/** Reads a PEM private key (PKCS#8, SEC1 or PKCS#1) and checks its scheme. */
export const loadSigningKey = (
  pem: string | KeyObject,
  passphrase?: string
): Effect.Effect<SigningKey, SigningKeyError> =>
  Effect.gen(function* () {
    const privateKey =
      typeof pem !== "string"
        ? pem
        : yield* Effect.try({
            try: () => createPrivateKey(passphrase === undefined ? pem : { key: pem, passphrase }),
            catch: (e) => new SigningKeyError({ reason: "malformed", detail: String(e) })
          })
    if (privateKey.type !== "private") {
      return yield* new SigningKeyError({ reason: "malformed", detail: "not a private key" })
    }
    const pub = createPublicKey(privateKey)
    const publicKey = yield* rawKeyFromKeyObject("signing key", pub).pipe(
      Effect.mapError((e) => new SigningKeyError({ reason: "unsupported-key", detail: e.detail }))
    )
    const publicKeyPem = pub.export({ type: "spki", format: "pem" }).toString()
    const algorithm = publicKey.algorithm
    return { algorithm, privateKey, publicKey, publicKeyPem } satisfies SigningKey
  })

/**
 * Signs bytes: Ed25519 (pure), ECDSA P-256 with SHA-256 (DER), or RSA-PSS with
 * SHA-256, MGF1-SHA-256 and a 32-byte salt. The output is what
 * `openssl pkeyutl -verify -rawin` (Ed25519) and `openssl dgst -sha256 -verify`
 * (ECDSA; RSA-PSS with `-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32`)
 * accept.
 */
export const signWith = (key: SigningKey, data: Uint8Array): Uint8Array => {
  switch (key.algorithm) {
    case "ed25519":
      return new Uint8Array(cryptoSign(null, data, key.privateKey))
    case "ecdsa-p256":
      return new Uint8Array(cryptoSign("sha256", data, { key: key.privateKey, dsaEncoding: "der" }))
    case "rsa-pss-sha256":
      return new Uint8Array(
        cryptoSign("sha256", data, {
          key: key.privateKey,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: PSS_SALT
        })
      )
  }
}

/**
 * Signs bytes with a PEM private key; see {@link signWith}.
 *
 * @category constructors
 */
export const sign = (
  keyPem: string | KeyObject,
  data: Uint8Array
): Effect.Effect<Uint8Array, SigningKeyError> =>
  Effect.map(loadSigningKey(keyPem), (key) => signWith(key, data))
