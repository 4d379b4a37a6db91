import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { join } from "node:path"
import * as openpgp from "openpgp"
import { signatureOf, verifySignatureFile } from "../../src/verify/Files.ts"
import { encodeMinisignPublicKey, signMinisign } from "../../src/verify/Minisign.ts"
import { loadSigningKey, signWith } from "../../src/verify/RawSignature.ts"
import { loadTrustedKeys } from "../../src/verify/TrustedKeys.ts"
import { bytes, ed25519, p256, tempDir, write } from "./helpers.ts"

const artifact = bytes("a release artifact\n")

// A release directory with one artifact signed in every supported format, and a keys directory.
const release = Effect.gen(function*() {
  const dir = yield* tempDir
  const keysDir = yield* tempDir
  write(dir, "app.tgz", artifact)

  const ec = p256()
  write(keysDir, "release.pem", ec.publicPem)
  const signing = yield* Effect.orDie(loadSigningKey(ec.privatePem))
  write(dir, "app.tgz.sig", signWith(signing, artifact))
  write(dir, "app.tgz.sigstore.json", JSON.stringify({
    mediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
    verificationMaterial: { publicKey: { hint: signing.publicKey.id }, tlogEntries: [] },
    messageSignature: {
      messageDigest: {
        algorithm: "SHA2_256",
        digest: createHash("sha256").update(artifact).digest("base64")
      },
      signature: Buffer.from(signWith(signing, artifact)).toString("base64")
    }
  }))

  const mini = ed25519()
  const keyNum = new Uint8Array(randomBytes(8))
  write(keysDir, "minisign.pub", encodeMinisignPublicKey(keyNum, mini.publicKey))
  const minisig = yield* signMinisign(artifact, {
    secretKey: mini.privateKey,
    keyNum,
    trustedComment: "app.tgz"
  })
  write(dir, "app.tgz.minisig", minisig)

  const pgp = yield* Effect.promise(() =>
    openpgp.generateKey({ userIDs: [{ name: "r" }], format: "object" })
  )
  write(keysDir, "release.asc", pgp.publicKey.armor())
  const message = yield* Effect.promise(() => openpgp.createMessage({ binary: artifact }))
  const sign = (format: "armored" | "binary") =>
    Effect.promise(() =>
      openpgp.sign({
        message,
        signingKeys: pgp.privateKey,
        detached: true,
        format: format as "binary"
      })
    )
  write(dir, "app.tgz.asc", yield* sign("armored"))
  write(dir, "other.tgz", artifact)
  write(dir, "other.tgz.sig", yield* sign("binary"))

  return { dir, keys: yield* loadTrustedKeys(keysDir) }
})

describe("Files", () => {
  describe("#verifySignatureFile", () => {
    it.scoped("verifies each signature format against the file it names", () =>
      Effect.gen(function*() {
        const { dir, keys } = yield* release
        const names = ["app.tgz.sig", "app.tgz.sigstore.json", "app.tgz.minisig", "app.tgz.asc"]
        for (const name of [...names, "other.tgz.sig"]) {
          const f = yield* verifySignatureFile(join(dir, name), keys)
          assert.strictEqual(f?.reason, "valid", `${name}: ${f?.detail}`)
        }
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.scoped("fails for a signature whose file was changed", () =>
      Effect.gen(function*() {
        const { dir, keys } = yield* release
        write(dir, "app.tgz", "changed")
        for (const name of ["app.tgz.sig", "app.tgz.minisig", "app.tgz.asc"]) {
          const f = yield* verifySignatureFile(join(dir, name), keys)
          assert.strictEqual(f?.reason, "bad-signature", name)
        }
        const bundle = yield* verifySignatureFile(join(dir, "app.tgz.sigstore.json"), keys)
        assert.strictEqual(bundle?.reason, "digest-mismatch")
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.scoped("fails with VerifyIoError when the signed file is missing", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const sig = write(dir, "gone.tgz.sig", "AAAA")
        const e = yield* Effect.flip(verifySignatureFile(sig, (yield* release).keys))
        assert.strictEqual(e._tag, "VerifyIoError")
        assert.strictEqual(e.path, join(dir, "gone.tgz"))
      }).pipe(Effect.provide(NodeFileSystem.layer)))
  })

  describe("#signatureOf", () => {
    it("names the kind and the signed file, and nothing for other names", () => {
      assert.deepStrictEqual(signatureOf("a/b.tgz.sigstore.json"),
        Option.some({ kind: "sigstore", subject: "a/b.tgz" }))
      assert.deepStrictEqual(signatureOf("SHA256SUMS.asc"),
        Option.some({ kind: "openpgp", subject: "SHA256SUMS" }))
      assert.isTrue(Option.isNone(signatureOf("b.tgz")))
      assert.isTrue(Option.isNone(signatureOf(".sig")))
    })
  })
})
