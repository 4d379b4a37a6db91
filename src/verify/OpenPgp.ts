import { Effect } from "effect"
import * as openpgp from "openpgp"
import { type Finding, invalid, valid } from "./Finding.ts"
import type { PgpPublicKey } from "./TrustedKeys.ts"

const reasonOf = (e: unknown): string => (e instanceof Error ? e.message : String(e))

const readSignature = (sig: Uint8Array) => {
  const text = Buffer.from(sig).toString("utf8")
  return text.trimStart().startsWith("-----BEGIN PGP SIGNATURE")
    ? openpgp.readSignature({ armoredSignature: text })
    : openpgp.readSignature({ binarySignature: sig })
}

/**
 * Verifies a detached OpenPGP signature (`.asc` armored, or binary `.sig` /
 * `.gpg`) over the file's bytes with openpgp.js, against the trusted OpenPGP
 * keys. Every signature packet in the file must verify (`expectSigned: true`).
 *
 * @category verifiers
 */
export const verifyOpenPgp = (
  file: string,
  data: Uint8Array,
  sig: Uint8Array,
  keys: ReadonlyArray<PgpPublicKey>
): Effect.Effect<Finding> =>
  Effect.gen(function* () {
    const signature = yield* Effect.tryPromise(() => readSignature(sig))
    const ids = signature.getSigningKeyIDs()
    const issuers = ids.map((id) => id.toHex().toUpperCase()).join(", ")
    const candidates = keys.filter((k) => ids.some((id) => k.key.getKeys(id).length > 0))
    if (candidates.length === 0) {
      return invalid(
        file,
        "signature",
        "unknown-key",
        `${file}: OpenPGP signature by key ${issuers || "(no issuer)"}, which is not trusted`
      )
    }

    const verified = yield* Effect.tryPromise(async () => {
      const message = await openpgp.createMessage({ binary: data })
      return openpgp.verify({
        message,
        signature,
        verificationKeys: candidates.map((k) => k.key),
        expectSigned: true,
        format: "binary"
      })
    }).pipe(Effect.either)
    if (verified._tag === "Left") {
      const key = candidates[0]!.id
      return invalid(
        file,
        "signature",
        "bad-signature",
        `${file}: OpenPGP signature by ${key} does not verify: ${reasonOf(verified.left.error)}`,
        key
      )
    }

    const keyID = verified.right.signatures[0]!.keyID
    const signer = candidates.find((k) => k.key.getKeys(keyID).length > 0) ?? candidates[0]!
    return valid(
      file,
      "signature",
      `${file}: OpenPGP signature by ${signer.id} (${signer.file})`,
      signer.id
    )
  }).pipe(
    Effect.catchTag("UnknownException", (e) =>
      Effect.succeed(
        invalid(
          file,
          "signature",
          "malformed",
          `${file}: not an OpenPGP signature: ${reasonOf(e.error)}`
        )
      )
    )
  )
