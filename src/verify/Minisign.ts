import { Effect } from "effect"
import { createHash, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from "node:crypto"
import { type Finding, FormatError, fromFormatError, invalid, valid } from "./Finding.ts"
import { type MinisignPublicKey, minisignKeyId } from "./TrustedKeys.ts"

// The minisign formats (https://jedisct1.github.io/minisign/, "Signature format"):
//   untrusted comment: <text>
//   base64(signature_algorithm[2] || key_id[8] || signature[64])
//   trusted comment: <text>
//   base64(global_signature[64])
// "Ed" signs the file itself (legacy), "ED" signs its BLAKE2b-512 digest.
// global_signature = Ed25519(signature || trusted_comment).

const UNTRUSTED = "untrusted comment: "
const TRUSTED = "trusted comment: "

/** @category models */
export interface MinisignSignature {
  readonly algorithm: "Ed" | "ED"
  readonly keyNum: Uint8Array
  readonly signature: Uint8Array
  readonly trustedComment: string
  readonly globalSignature: Uint8Array
}

const malformed = (detail: string) =>
  new FormatError({ format: "minisign", reason: "malformed", detail })

const strictBase64 = (line: string, length: number, what: string) => {
  const decoded = Buffer.from(line, "base64")
  return decoded.length === length && decoded.toString("base64") === line
    ? Effect.succeed(new Uint8Array(decoded))
    : Effect.fail(malformed(`${what} is not base64 of ${length} bytes`))
}

/** Parses a `.minisig` file. */
export const parseMinisignSignature = (
  text: string
): Effect.Effect<MinisignSignature, FormatError> =>
  Effect.gen(function* () {
    const lines = text.split("\n").map((l) => l.replace(/\r$/, ""))
    if (lines.length < 4 || !lines[0]!.startsWith(UNTRUSTED) || !lines[2]!.startsWith(TRUSTED)) {
      return yield* malformed(
        "expected untrusted comment, signature, trusted comment, global signature"
      )
    }
    const sigBlock = yield* strictBase64(lines[1]!, 74, "the signature line")
    const algorithm = Buffer.from(sigBlock.subarray(0, 2)).toString("latin1")
    if (algorithm !== "Ed" && algorithm !== "ED") {
      return yield* new FormatError({
        format: "minisign",
        reason: "unsupported-format",
        detail: `signature algorithm ${JSON.stringify(algorithm)}`
      })
    }
    return {
      algorithm,
      keyNum: sigBlock.subarray(2, 10),
      signature: sigBlock.subarray(10),
      trustedComment: lines[2]!.slice(TRUSTED.length),
      globalSignature: yield* strictBase64(lines[3]!, 64, "the global signature line")
    } satisfies MinisignSignature
  })

const signedMessage = (algorithm: "Ed" | "ED", data: Uint8Array): Uint8Array =>
  algorithm === "ED" ? createHash("blake2b512").update(data).digest() : data

const globalMessage = (signature: Uint8Array, trustedComment: string): Uint8Array =>
  Buffer.concat([signature, Buffer.from(trustedComment, "utf8")])

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b))

/**
 * Verifies a minisign signature over the file's bytes and the signature over
 * its trusted comment, with the trusted minisign key whose id it names.
 *
 * @category verifiers
 */
export const verifyMinisign = (
  file: string,
  data: Uint8Array,
  sigText: string,
  keys: ReadonlyArray<MinisignPublicKey>
): Effect.Effect<Finding> =>
  Effect.gen(function* () {
    const sig = yield* parseMinisignSignature(sigText)
    const id = minisignKeyId(sig.keyNum)
    const key = keys.find((k) => sameBytes(k.keyNum, sig.keyNum))
    if (key === undefined) {
      return invalid(
        file,
        "signature",
        "unknown-key",
        `${file}: minisign signature by key ${id}, which is not trusted`
      )
    }
    if (!cryptoVerify(null, signedMessage(sig.algorithm, data), key.key, sig.signature)) {
      return invalid(
        file,
        "signature",
        "bad-signature",
        `${file}: minisign signature by ${id} does not match the file`,
        id
      )
    }
    const global = globalMessage(sig.signature, sig.trustedComment)
    if (!cryptoVerify(null, global, key.key, sig.globalSignature)) {
      return invalid(
        file,
        "signature",
        "bad-signature",
        `${file}: the trusted comment of the minisign signature by ${id} was altered`,
        id
      )
    }
    const comment = `trusted comment: ${sig.trustedComment}`
    const detail = `${file}: minisign signature by ${id} (${key.file}); ${comment}`
    return valid(file, "signature", detail, id)
  }).pipe(
    Effect.catchTag("FormatError", (e) => Effect.succeed(fromFormatError(file, "signature", e)))
  )

const rawPublicKey = (key: KeyObject): Uint8Array =>
  key.export({ format: "der", type: "spki" }).subarray(-32)

/** A minisign public key file for an Ed25519 key and an 8-byte key id. */
export const encodeMinisignPublicKey = (keyNum: Uint8Array, publicKey: KeyObject): string => {
  const body = Buffer.concat([Buffer.from("Ed"), keyNum, rawPublicKey(publicKey)])
  return `${UNTRUSTED}minisign public key ${minisignKeyId(keyNum)}\n${body.toString("base64")}\n`
}

/** Options for {@link signMinisign}; `legacy` writes "Ed" instead of prehashed "ED". */
export interface MinisignSignOptions {
  readonly secretKey: KeyObject
  readonly keyNum: Uint8Array
  readonly trustedComment: string
  readonly untrustedComment?: string
  readonly legacy?: boolean
}

/**
 * Writes a `.minisig` for the bytes with an Ed25519 private key.
 *
 * @category constructors
 */
export const signMinisign = (
  data: Uint8Array,
  options: MinisignSignOptions
): Effect.Effect<string, FormatError> =>
  Effect.gen(function* () {
    if (/[\r\n]/.test(options.trustedComment)) {
      return yield* malformed("a trusted comment must be a single line")
    }
    const algorithm = options.legacy === true ? "Ed" : "ED"
    const signature = cryptoSign(null, signedMessage(algorithm, data), options.secretKey)
    const block = Buffer.concat([Buffer.from(algorithm), options.keyNum, signature])
    const globalSigned = globalMessage(signature, options.trustedComment)
    const global = cryptoSign(null, globalSigned, options.secretKey)
    const untrusted =
      options.untrustedComment ?? `signature from relpub, key ${minisignKeyId(options.keyNum)}`
    return (
      `${UNTRUSTED}${untrusted}\n${block.toString("base64")}\n` +
      `${TRUSTED}${options.trustedComment}\n${global.toString("base64")}\n`
    )
  })
