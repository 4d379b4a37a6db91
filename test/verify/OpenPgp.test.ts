import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import * as openpgp from "openpgp"
import { verifyOpenPgp } from "../../src/verify/OpenPgp.ts"
import { loadTrustedKeys, pgpKeysFromBytes } from "../../src/verify/TrustedKeys.ts"
import { bytes, missing, run, tempDir, write } from "./helpers.ts"

const artifact = bytes("release tarball bytes\n")

const makeKey = (name: string) =>
  Effect.promise(() =>
    openpgp.generateKey({
      type: "ecc",
      curve: "curve25519Legacy",
      userIDs: [{ name, email: `${name}@example.com` }],
      format: "object"
    })
  )

const detachSign = (privateKey: openpgp.PrivateKey, data: Uint8Array) =>
  Effect.promise(async () =>
    openpgp.sign({
      message: await openpgp.createMessage({ binary: data }),
      signingKeys: privateKey,
      detached: true
    })
  )

const trust = (armored: string) => Effect.orDie(pgpKeysFromBytes("release.asc", bytes(armored)))

describe("OpenPgp", () => {
  describe("#verifyOpenPgp", () => {
    describe("when the key was made by openpgp.js", () => {
      it.effect("returns valid with the key fingerprint", () =>
        Effect.gen(function*() {
          const { privateKey, publicKey } = yield* makeKey("alice")
          const keys = yield* trust(publicKey.armor())
          const sig = yield* detachSign(privateKey, artifact)
          const f = yield* verifyOpenPgp("a.tgz", artifact, bytes(sig), keys)
          assert.strictEqual(f.reason, "valid")
          assert.strictEqual(f.key, publicKey.getFingerprint().toUpperCase())
        }))

      it.effect("fails with bad-signature when the file was changed", () =>
        Effect.gen(function*() {
          const { privateKey, publicKey } = yield* makeKey("alice")
          const keys = yield* trust(publicKey.armor())
          const sig = yield* detachSign(privateKey, artifact)
          const f = yield* verifyOpenPgp("a.tgz", bytes("tampered"), bytes(sig), keys)
          assert.strictEqual(f.reason, "bad-signature")
          assert.isFalse(f.ok)
        }))

      it.effect("fails with unknown-key when the signer is not trusted", () =>
        Effect.gen(function*() {
          const alice = yield* makeKey("alice")
          const mallory = yield* makeKey("mallory")
          const keys = yield* trust(alice.publicKey.armor())
          const sig = yield* detachSign(mallory.privateKey, artifact)
          const f = yield* verifyOpenPgp("a.tgz", artifact, bytes(sig), keys)
          assert.strictEqual(f.reason, "unknown-key")
        }))

      it.effect("fails with malformed for a file that is no signature", () =>
        Effect.gen(function*() {
          const f = yield* verifyOpenPgp("a.tgz", artifact, bytes("hello"), [])
          assert.strictEqual(f.reason, "malformed")
        }))
    })

    describe("when the key and signature were made by gpg", () => {
      const skip = missing("gpg", "gpgconf")

      it.scoped.skipIf(skip)(`verifies gpg --detach-sign output, armored and binary${skip}`, () =>
        Effect.gen(function*() {
          const home = yield* tempDir
          const keysDir = yield* tempDir
          const env = { ...process.env, GNUPGHOME: home }
          yield* Effect.addFinalizer(() =>
            Effect.ignore(run("gpgconf", ["--kill", "gpg-agent"], { env }))
          )
          const batch = ["--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", ""]
          const gpg = (...args: ReadonlyArray<string>) => run("gpg", [...batch, ...args], { env })
          yield* gpg("--quick-gen-key", "Release <release@example.com>", "ed25519", "sign", "never")
          write(keysDir, "release.asc", yield* gpg("--armor", "--export", "release@example.com"))
          const file = write(home, "a.tgz", artifact)
          const signer = ["-u", "release@example.com"]
          yield* gpg("--armor", "--detach-sign", ...signer, "-o", `${file}.asc`, file)
          yield* gpg("--detach-sign", ...signer, "-o", `${file}.sig`, file)

          const trusted = yield* loadTrustedKeys(keysDir)
          assert.strictEqual(trusted.pgp.length, 1)
          for (const ext of [".asc", ".sig"]) {
            const sig = readFileSync(`${file}${ext}`)
            const ok = yield* verifyOpenPgp("a.tgz", artifact, sig, trusted.pgp)
            assert.strictEqual(ok.reason, "valid", ext)
            assert.strictEqual(ok.key, trusted.pgp[0]!.id)
            const bad = yield* verifyOpenPgp("a.tgz", bytes("tampered"), sig, trusted.pgp)
            assert.strictEqual(bad.reason, "bad-signature", ext)
          }
          assert.strictEqual(join(keysDir, "release.asc"), trusted.pgp[0]!.file)
        }).pipe(Effect.provide(NodeFileSystem.layer)))
    })
  })
})
