import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto"
import * as openpgp from "openpgp"
import { encodeMinisignPublicKey } from "../../src/verify/Minisign.ts"
import { loadTrustedKeys, matchesHint, rawKeysFromPem } from "../../src/verify/TrustedKeys.ts"
import { ed25519, p256, rsa, tempDir, write } from "./helpers.ts"

const keysDir = Effect.gen(function*() {
  const dir = yield* tempDir
  const ed = ed25519()
  const ec = p256()
  const rs = rsa()
  write(dir, "ed25519.pem", ed.publicPem)
  write(dir, "ecdsa.pub", ec.publicPem)
  write(dir, "rsa.pem", rs.publicPem)
  const keyNum = new Uint8Array(randomBytes(8))
  write(dir, "minisign.pub", encodeMinisignPublicKey(keyNum, ed25519().publicKey))
  const pgp = yield* Effect.promise(() =>
    openpgp.generateKey({ userIDs: [{ name: "r", email: "r@example.com" }], format: "armored" })
  )
  write(dir, "release.asc", pgp.publicKey)
  const root = { mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1" }
  write(dir, "trusted_root.json", JSON.stringify(root))
  write(dir, "README.md", "not a key")
  return { dir, ed, ec, rs }
})

describe("TrustedKeys", () => {
  describe("#loadTrustedKeys", () => {
    it.scoped("reads PEM, minisign and OpenPGP keys and the Sigstore trusted root", () =>
      Effect.gen(function*() {
        const { dir, ed } = yield* keysDir
        const keys = yield* loadTrustedKeys(dir)
        assert.deepStrictEqual(keys.raw.map((k) => k.algorithm).sort(),
          ["ecdsa-p256", "ed25519", "rsa-pss-sha256"])
        assert.strictEqual(keys.minisign.length, 1)
        assert.match(keys.minisign[0]!.id, /^[0-9A-F]{16}$/)
        assert.strictEqual(keys.pgp.length, 1)
        assert.match(keys.pgp[0]!.id, /^[0-9A-F]{40}$/)
        assert.isTrue(Option.isSome(keys.sigstoreRoot))

        const spki = ed.publicKey.export({ type: "spki", format: "der" })
        const edKey = keys.raw.find((k) => k.algorithm === "ed25519")!
        assert.strictEqual(edKey.fingerprint, createHash("sha256").update(spki).digest("hex"))
        assert.strictEqual(edKey.id, edKey.fingerprint.slice(0, 16))
        assert.isTrue(matchesHint(edKey, "ed25519"))
        assert.isTrue(matchesHint(edKey, edKey.fingerprint))
        assert.isFalse(matchesHint(edKey, ""))
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    const refused: ReadonlyArray<readonly [string, string, () => string, string]> = [
      ["a private key", "leak.pem", () => ed25519().privatePem, "unsupported-key"],
      ["an RSA key of 1024 bits", "small.pem", () => rsa(1024).publicPem, "unsupported-key"],
      ["a P-384 key", "p384.pem", () =>
        generateKeyPairSync("ec", { namedCurve: "P-384" }).publicKey
          .export({ type: "spki", format: "pem" }).toString(), "unsupported-key"],
      ["an OpenSSH key", "id.pub", () => "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI test",
        "unsupported-key"],
      ["a broken PEM body", "broken.pem",
        () => "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "malformed"],
      ["a broken minisign key", "m.pub", () => "untrusted comment: x\nRWQ=\n", "malformed"],
      ["a broken trusted root", "trusted_root.json", () => "{", "malformed"]
    ]
    for (const [what, name, content, reason] of refused) {
      it.scoped(`fails with ${reason} for ${what}`, () =>
        Effect.gen(function*() {
          const dir = yield* tempDir
          write(dir, name, content())
          const e = yield* Effect.flip(loadTrustedKeys(dir))
          assert.strictEqual(e.reason, reason)
          assert.include(e.file, name)
        }).pipe(Effect.provide(NodeFileSystem.layer)))
    }

    it.effect("fails with unreadable for a directory that does not exist", () =>
      Effect.gen(function*() {
        const e = yield* Effect.flip(loadTrustedKeys("/nonexistent/relpub-keys"))
        assert.strictEqual(e.reason, "unreadable")
      }).pipe(Effect.provide(NodeFileSystem.layer)))
  })

  describe("#rawKeysFromPem", () => {
    it.effect("reads every key of a file with several PEM blocks", () =>
      Effect.gen(function*() {
        const keys = yield* rawKeysFromPem("two.pem", ed25519().publicPem + p256().publicPem)
        assert.deepStrictEqual(keys.map((k) => k.algorithm), ["ed25519", "ecdsa-p256"])
      }))
  })
})
