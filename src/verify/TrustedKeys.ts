import { FileSystem } from "@effect/platform"
import { Effect, Option, Schema } from "effect"
import { createHash, createPublicKey, type KeyObject } from "node:crypto"
import * as openpgp from "openpgp"

/**
 * The raw signature schemes relpub accepts. The scheme is a property of the
 * trusted key, never of the signature: RSA keys are used with RSA-PSS-SHA256
 * only, EC keys must be on P-256 and are used with ECDSA-SHA256.
 *
 * @category models
 */
export type RawAlgorithm = "ed25519" | "ecdsa-p256" | "rsa-pss-sha256"

/** A PEM (SPKI) public key; `id` is the first 16 hex digits of its SPKI SHA-256. */
export interface RawPublicKey {
  readonly _tag: "RawPublicKey"
  readonly id: string
  readonly fingerprint: string
  readonly file: string
  readonly algorithm: RawAlgorithm
  readonly key: KeyObject
}

/** An OpenPGP public key (with its subkeys); `id` is the primary key fingerprint. */
export interface PgpPublicKey {
  readonly _tag: "PgpPublicKey"
  readonly id: string
  readonly file: string
  readonly key: openpgp.PublicKey
}

/** A minisign public key; `id` is the key id as minisign prints it. */
export interface MinisignPublicKey {
  readonly _tag: "MinisignPublicKey"
  readonly id: string
  readonly file: string
  readonly keyNum: Uint8Array
  readonly key: KeyObject
}

/** @category models */
export interface TrustedKeys {
  readonly raw: ReadonlyArray<RawPublicKey>
  readonly pgp: ReadonlyArray<PgpPublicKey>
  readonly minisign: ReadonlyArray<MinisignPublicKey>
  /** The parsed `trusted_root.json` (Sigstore TrustedRoot JSON), when present. */
  readonly sigstoreRoot: Option.Option<unknown>
}

export const emptyTrustedKeys: TrustedKeys = {
  raw: [],
  pgp: [],
  minisign: [],
  sigstoreRoot: Option.none()
}

/** @category errors */
export class TrustedKeyError extends Schema.TaggedError<TrustedKeyError>()("TrustedKeyError", {
  file: Schema.String,
  reason: Schema.Literal("unreadable", "malformed", "unsupported-key"),
  detail: Schema.String
}) {
  override get message(): string {
    return `trusted key ${this.file}: ${this.reason}: ${this.detail}`
  }
}

const fail = (file: string, reason: TrustedKeyError["reason"], detail: string) =>
  new TrustedKeyError({ file, reason, detail })

/** Wraps a public key object, deciding its scheme from the key alone. */
export const rawKeyFromKeyObject = (
  file: string,
  key: KeyObject
): Effect.Effect<RawPublicKey, TrustedKeyError> =>
  Effect.gen(function* () {
    if (key.type !== "public") return yield* fail(file, "unsupported-key", "not a public key")
    const details = key.asymmetricKeyDetails ?? {}
    let algorithm: RawAlgorithm
    if (key.asymmetricKeyType === "ed25519") algorithm = "ed25519"
    else if (key.asymmetricKeyType === "ec" && details.namedCurve === "prime256v1") {
      algorithm = "ecdsa-p256"
    } else if (key.asymmetricKeyType === "rsa" || key.asymmetricKeyType === "rsa-pss") {
      if ((details.modulusLength ?? 0) < 2048) {
        return yield* fail(file, "unsupported-key", "RSA keys shorter than 2048 bits are refused")
      }
      algorithm = "rsa-pss-sha256"
    } else {
      const what = `${key.asymmetricKeyType ?? "?"} ${details.namedCurve ?? ""}`.trim()
      return yield* fail(file, "unsupported-key", `${what} keys are not supported`)
    }
    const spki = key.export({ type: "spki", format: "der" })
    const fingerprint = createHash("sha256").update(spki).digest("hex")
    const id = fingerprint.slice(0, 16)
    return { _tag: "RawPublicKey", id, fingerprint, file, algorithm, key } satisfies RawPublicKey
  })

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g

/** Reads every public key block of a PEM text. Private keys are refused. */
export const rawKeysFromPem = (
  file: string,
  text: string
): Effect.Effect<ReadonlyArray<RawPublicKey>, TrustedKeyError> =>
  Effect.gen(function* () {
    const blocks = [...text.matchAll(PEM_BLOCK)]
    if (blocks.length === 0) return yield* fail(file, "malformed", "no PEM block")
    const keys: Array<RawPublicKey> = []
    for (const [block, label] of blocks) {
      if (label !== "PUBLIC KEY" && label !== "RSA PUBLIC KEY") {
        return yield* fail(file, "unsupported-key", `a ${label} block is not a trusted public key`)
      }
      const key = yield* Effect.try({
        try: () => createPublicKey(block),
        catch: (e) => fail(file, "malformed", String(e))
      })
      keys.push(yield* rawKeyFromKeyObject(file, key))
    }
    return keys
  })

// SPKI DER prefix of an Ed25519 key: SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING }.
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex")

/** An Ed25519 public key object from its 32 raw bytes. */
export const ed25519FromRaw = (raw: Uint8Array): KeyObject =>
  createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, raw]),
    format: "der",
    type: "spki"
  })

/** minisign prints a key id as the little-endian 64-bit number, in upper-case hex. */
export const minisignKeyId = (keyNum: Uint8Array): string =>
  Buffer.from(keyNum).reverse().toString("hex").toUpperCase()

/**
 * A minisign public key: an "untrusted comment:" line, then the base64 of
 * "Ed" || key id (8 bytes) || Ed25519 public key (32 bytes).
 */
export const minisignKeyFromText = (
  file: string,
  text: string
): Effect.Effect<MinisignPublicKey, TrustedKeyError> =>
  Effect.gen(function* () {
    const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "")
    const body = lines[0]?.startsWith("untrusted comment:") ? lines[1] : lines[0]
    const bytes = Buffer.from(body?.trim() ?? "", "base64")
    if (bytes.length !== 42 || bytes.toString("base64") !== body?.trim()) {
      return yield* fail(file, "malformed", "not a minisign public key")
    }
    if (bytes.subarray(0, 2).toString("latin1") !== "Ed") {
      return yield* fail(file, "unsupported-key", "minisign key algorithm is not Ed")
    }
    const keyNum = new Uint8Array(bytes.subarray(2, 10))
    return {
      _tag: "MinisignPublicKey",
      id: minisignKeyId(keyNum),
      file,
      keyNum,
      key: ed25519FromRaw(bytes.subarray(10))
    } satisfies MinisignPublicKey
  })

/** OpenPGP public keys, armored or binary. Secret keys are refused. */
export const pgpKeysFromBytes = (
  file: string,
  bytes: Uint8Array
): Effect.Effect<ReadonlyArray<PgpPublicKey>, TrustedKeyError> =>
  Effect.gen(function* () {
    const text = Buffer.from(bytes).toString("utf8")
    const keys = yield* Effect.tryPromise({
      try: () =>
        text.trimStart().startsWith("-----BEGIN PGP")
          ? openpgp.readKeys({ armoredKeys: text })
          : openpgp.readKeys({ binaryKeys: bytes }),
      catch: (e) => fail(file, "malformed", e instanceof Error ? e.message : String(e))
    })
    const out: Array<PgpPublicKey> = []
    for (const key of keys) {
      if (key.isPrivate()) return yield* fail(file, "unsupported-key", "an OpenPGP secret key")
      const id = key.getFingerprint().toUpperCase()
      out.push({ _tag: "PgpPublicKey", id, file, key: key.toPublic() })
    }
    return out
  })

const baseName = (path: string): string => path.slice(path.lastIndexOf("/") + 1)

/** True when an unauthenticated hint (DSSE keyid, Sigstore hint) names this key. */
export const matchesHint = (key: RawPublicKey, hint: string): boolean => {
  const h = hint.toLowerCase()
  const name = baseName(key.file).toLowerCase()
  return (
    h !== "" &&
    (h === key.id || h === key.fingerprint || h === name || h === name.replace(/\.[^.]*$/, ""))
  )
}

/**
 * Loads a trusted-keys directory (not recursive): `*.pem` and PEM `*.pub`,
 * minisign `*.pub`, OpenPGP `*.asc` / `*.gpg`, and `trusted_root.json`.
 * Other files are ignored; a key file that cannot be used fails the load.
 *
 * @category constructors
 */
export const loadTrustedKeys = (
  dir: string
): Effect.Effect<TrustedKeys, TrustedKeyError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const unreadable = (file: string) => (e: unknown) => fail(file, "unreadable", String(e))
    const names = yield* fs.readDirectory(dir).pipe(Effect.mapError(unreadable(dir)))
    const raw: Array<RawPublicKey> = []
    const pgp: Array<PgpPublicKey> = []
    const minisign: Array<MinisignPublicKey> = []
    let sigstoreRoot: Option.Option<unknown> = Option.none()
    for (const name of [...names].sort()) {
      const file = `${dir}/${name}`
      const ext = name.slice(name.lastIndexOf(".")).toLowerCase()
      const wanted = [".pem", ".pub", ".asc", ".gpg"].includes(ext) || name === "trusted_root.json"
      if (!wanted) continue
      const info = yield* fs.stat(file).pipe(Effect.mapError(unreadable(file)))
      if (info.type !== "File") continue
      const bytes = yield* fs.readFile(file).pipe(Effect.mapError(unreadable(file)))
      const text = Buffer.from(bytes).toString("utf8")
      if (name === "trusted_root.json") {
        const json = yield* Effect.try({
          try: () => JSON.parse(text) as unknown,
          catch: (e) => fail(file, "malformed", String(e))
        })
        sigstoreRoot = Option.some(json)
      } else if (ext === ".asc" || ext === ".gpg") {
        pgp.push(...(yield* pgpKeysFromBytes(file, bytes)))
      } else if (text.trimStart().startsWith("-----BEGIN")) {
        raw.push(...(yield* rawKeysFromPem(file, text)))
      } else if (ext === ".pub" && text.startsWith("untrusted comment:")) {
        minisign.push(yield* minisignKeyFromText(file, text))
      } else {
        return yield* fail(file, "unsupported-key", "neither PEM nor a minisign public key")
      }
    }
    return { raw, pgp, minisign, sigstoreRoot } satisfies TrustedKeys
  })
