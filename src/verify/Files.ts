import { FileSystem } from "@effect/platform"
import { Effect, Option } from "effect"
import { type Finding, VerifyIoError } from "./Finding.ts"
import { verifyMinisign } from "./Minisign.ts"
import { verifyOpenPgp } from "./OpenPgp.ts"
import { verifyRawSignature } from "./RawSignature.ts"
import { type SigstoreOptions, verifySigstoreBundle } from "./Sigstore.ts"
import type { TrustedKeys } from "./TrustedKeys.ts"

/** The detached signature formats relpub recognises by file name. */
export type SignatureKind = "raw" | "openpgp" | "minisign" | "sigstore"

const SUFFIXES: ReadonlyArray<readonly [string, SignatureKind]> = [
  [".sigstore.json", "sigstore"],
  [".sigstore", "sigstore"],
  [".minisig", "minisign"],
  [".asc", "openpgp"],
  [".sig", "raw"]
]

/** The kind of a signature file and the path of the file it signs, by suffix. */
export const signatureOf = (
  path: string
): Option.Option<{ readonly kind: SignatureKind; readonly subject: string }> => {
  const hit = SUFFIXES.find(([suffix]) => path.endsWith(suffix) && path.length > suffix.length)
  return hit === undefined
    ? Option.none()
    : Option.some({ kind: hit[1], subject: path.slice(0, -hit[0].length) })
}

/** Options for certificate Sigstore bundles; keys and trusted root come from TrustedKeys. */
export type SignatureOptions = Pick<SigstoreOptions, "identity" | "thresholds">

/**
 * Verifies signature bytes of a given kind over the signed bytes. A `.sig`
 * that does not verify as a raw signature is also tried as a binary OpenPGP
 * signature (what `gpg --detach-sign` writes).
 *
 * @category verifiers
 */
export const verifySignature = (
  file: string,
  kind: SignatureKind,
  data: Uint8Array,
  signature: Uint8Array,
  keys: TrustedKeys,
  options: SignatureOptions = {}
): Effect.Effect<Finding> => {
  switch (kind) {
    case "minisign":
      return verifyMinisign(file, data, Buffer.from(signature).toString("utf8"), keys.minisign)
    case "openpgp":
      return verifyOpenPgp(file, data, signature, keys.pgp)
    case "sigstore":
      return verifySigstoreBundle(file, signature, data, {
        ...options,
        keys: keys.raw,
        trustedRoot: Option.getOrUndefined(keys.sigstoreRoot)
      })
    case "raw":
      return Effect.gen(function* () {
        const raw = yield* verifyRawSignature(file, data, signature, keys.raw)
        if (raw.ok) return raw
        const pgp = yield* verifyOpenPgp(file, data, signature, keys.pgp)
        return pgp.reason === "malformed" ? raw : pgp
      })
  }
}

/** Reads a whole file. */
export const readBytes = (
  path: string
): Effect.Effect<Uint8Array, VerifyIoError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFile(path)).pipe(
    Effect.mapError((cause) => new VerifyIoError({ path, cause }))
  )

/**
 * Reads a signature file and the file it signs (its name without the
 * signature suffix) and verifies it; `undefined` when the name has no
 * signature suffix.
 *
 * @category verifiers
 */
export const verifySignatureFile = (
  signaturePath: string,
  keys: TrustedKeys,
  options: SignatureOptions = {}
): Effect.Effect<Finding | undefined, VerifyIoError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const sig = signatureOf(signaturePath)
    if (Option.isNone(sig)) return undefined
    const signature = yield* readBytes(signaturePath)
    const data = yield* readBytes(sig.value.subject)
    return yield* verifySignature(signaturePath, sig.value.kind, data, signature, keys, options)
  })
