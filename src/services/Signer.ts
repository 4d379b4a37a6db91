import * as crypto from "node:crypto"
import { Context, Effect, Layer, Option } from "effect"
import { KeyError } from "../domain/Errors.ts"

/** Signature algorithms relpub signs with; each is fixed by the key's type. */
export type SignatureAlgorithm = "ed25519" | "ecdsa-p256-sha256" | "rsa-pss-sha256"

/**
 * A private key that signs repository metadata with detached signatures:
 * Ed25519 (pure), ECDSA P-256 with SHA-256 (DER), RSA-PSS with SHA-256 and a
 * 32-byte salt. `keyId` is the SHA-256 of the public key's SPKI DER.
 *
 * @category models
 */
export interface SigningKeyShape {
  readonly keyId: string
  readonly algorithm: SignatureAlgorithm
  readonly publicKeyPem: string
  readonly sign: (bytes: Uint8Array) => Uint8Array
}

/**
 * The repository signing key, when one was given (`--signing-key`).
 *
 * @category tags
 */
export class Signer extends Context.Tag("relpub/services/Signer")<
  Signer,
  Option.Option<SigningKeyShape>
>() {}

export const RSA_PSS_SALT_LENGTH = 32

const algorithmOf = (key: crypto.KeyObject): SignatureAlgorithm | string => {
  const type = key.asymmetricKeyType
  if (type === "ed25519") return "ed25519"
  if (type === "rsa" || type === "rsa-pss") return "rsa-pss-sha256"
  if (type === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1")
    return "ecdsa-p256-sha256"
  return `${type ?? "unknown"} ${key.asymmetricKeyDetails?.namedCurve ?? ""}`.trim()
}

export const keyIdOf = (publicKey: crypto.KeyObject): string =>
  crypto
    .createHash("sha256")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest("hex")

export const signWith = (
  key: crypto.KeyObject,
  algorithm: SignatureAlgorithm,
  bytes: Uint8Array
): Uint8Array => {
  switch (algorithm) {
    case "ed25519":
      return crypto.sign(null, bytes, key)
    case "ecdsa-p256-sha256":
      return crypto.sign("sha256", bytes, key)
    case "rsa-pss-sha256":
      return crypto.sign("sha256", bytes, {
        key,
        padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
        saltLength: RSA_PSS_SALT_LENGTH
      })
  }
}

/** Verify a detached signature made by {@link signWith} with the matching public key. */
export const verifyWith = (
  publicKey: crypto.KeyObject,
  bytes: Uint8Array,
  signature: Uint8Array
): boolean => {
  const algorithm = algorithmOf(publicKey)
  switch (algorithm) {
    case "ed25519":
      return crypto.verify(null, bytes, publicKey, signature)
    case "ecdsa-p256-sha256":
      return crypto.verify("sha256", bytes, publicKey, signature)
    case "rsa-pss-sha256":
      return crypto.verify(
        "sha256",
        bytes,
        {
          key: publicKey,
          padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
          saltLength: RSA_PSS_SALT_LENGTH
        },
        signature
      )
    default:
      return false
  }
}

/** Build a signing key from PEM text (PKCS#8 or traditional PEM). */
export const signingKeyFromPem = (
  file: string,
  pem: string
): Effect.Effect<SigningKeyShape, KeyError> =>
  Effect.gen(function* () {
    const key = yield* Effect.try({
      try: () => crypto.createPrivateKey({ key: pem, format: "pem" }),
      catch: (e) => new KeyError({ file, detail: `not a PEM private key: ${(e as Error).message}` })
    })
    const algorithm = algorithmOf(key)
    if (
      algorithm !== "ed25519" &&
      algorithm !== "ecdsa-p256-sha256" &&
      algorithm !== "rsa-pss-sha256"
    ) {
      return yield* new KeyError({
        file,
        detail: `unsupported key type ${algorithm} (use Ed25519, ECDSA P-256 or RSA)`
      })
    }
    const publicKey = crypto.createPublicKey(key)
    return {
      keyId: keyIdOf(publicKey),
      algorithm,
      publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
      sign: (bytes: Uint8Array) => signWith(key, algorithm, bytes)
    }
  })

/** No signing key: records are written unsigned. */
export const layerNone: Layer.Layer<Signer> = Layer.succeed(Signer, Option.none())

export const layerFromPem = (file: string, pem: string): Layer.Layer<Signer, KeyError> =>
  Layer.effect(Signer, Effect.map(signingKeyFromPem(file, pem), Option.some))

export type KeyType = "ed25519" | "ecdsa-p256" | "rsa"

/** A fresh key pair as PEM: PKCS#8 private key, SPKI public key. */
export const generateKeyPair = (type: KeyType): { privateKeyPem: string; publicKeyPem: string } => {
  const encoding = {
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" }
  } as const
  switch (type) {
    case "ed25519": {
      const { privateKey, publicKey } = crypto.generateKeyPairSync("ed25519", encoding)
      return { privateKeyPem: String(privateKey), publicKeyPem: String(publicKey) }
    }
    case "ecdsa-p256": {
      const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", {
        namedCurve: "prime256v1",
        ...encoding
      })
      return { privateKeyPem: String(privateKey), publicKeyPem: String(publicKey) }
    }
    case "rsa": {
      const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", {
        modulusLength: 3072,
        ...encoding
      })
      return { privateKeyPem: String(privateKey), publicKeyPem: String(publicKey) }
    }
  }
}
