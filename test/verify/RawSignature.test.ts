import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { sign as cryptoSign } from "node:crypto"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { loadSigningKey, sign, verifyRawSignature } from "../../src/verify/RawSignature.ts"
import { rawKeysFromPem } from "../../src/verify/TrustedKeys.ts"
import {
  bytes,
  ed25519,
  type KeyPair,
  missing,
  p256,
  rsa,
  run,
  succeeds,
  tempDir,
  write
} from "./helpers.ts"

const schemes: ReadonlyArray<readonly [string, KeyPair, KeyPair]> = [
  ["ed25519", ed25519(), ed25519()],
  ["ecdsa-p256", p256(), p256()],
  ["rsa-pss-sha256", rsa(), rsa()]
]

const artifact = bytes("relpub artifact bytes\n")
const trusted = (pem: string) => Effect.orDie(rawKeysFromPem("trusted.pem", pem))
const pss = (saltLength: string) =>
  ["-sigopt", "rsa_padding_mode:pss", "-sigopt", `rsa_pss_saltlen:${saltLength}`]

describe("RawSignature", () => {
  describe("#verifyRawSignature", () => {
    for (const [name, signer, stranger] of schemes) {
      describe(`when the key is ${name}`, () => {
        it.effect("returns valid for a signature by a trusted key", () =>
          Effect.gen(function*() {
            const keys = yield* trusted(signer.publicPem)
            const sig = yield* sign(signer.privatePem, artifact)
            const f = yield* verifyRawSignature("a.bin", artifact, sig, keys)
            assert.strictEqual(f.reason, "valid")
            assert.isTrue(f.ok)
            assert.strictEqual(f.key, keys[0]!.id)
          }))

        it.effect("returns valid for a base64 text signature", () =>
          Effect.gen(function*() {
            const keys = yield* trusted(signer.publicPem)
            const sig = yield* sign(signer.privatePem, artifact)
            const text = bytes(Buffer.from(sig).toString("base64") + "\n")
            const f = yield* verifyRawSignature("a.bin", artifact, text, keys)
            assert.strictEqual(f.reason, "valid")
          }))

        it.effect("fails with bad-signature when the file was changed", () =>
          Effect.gen(function*() {
            const keys = yield* trusted(signer.publicPem)
            const sig = yield* sign(signer.privatePem, artifact)
            const f = yield* verifyRawSignature("a.bin", bytes("tampered"), sig, keys)
            assert.strictEqual(f.reason, "bad-signature")
            assert.isFalse(f.ok)
          }))

        it.effect("fails with bad-signature when signed by a key that is not trusted", () =>
          Effect.gen(function*() {
            const keys = yield* trusted(stranger.publicPem)
            const sig = yield* sign(signer.privatePem, artifact)
            const f = yield* verifyRawSignature("a.bin", artifact, sig, keys)
            assert.strictEqual(f.reason, "bad-signature")
          }))
      })
    }

    it.effect("fails with unknown-key when no PEM key is trusted", () =>
      Effect.gen(function*() {
        const sig = yield* sign(schemes[0]![1].privatePem, artifact)
        const f = yield* verifyRawSignature("a.bin", artifact, sig, [])
        assert.strictEqual(f.reason, "unknown-key")
      }))

    it.effect("accepts an IEEE-P1363 ECDSA signature", () =>
      Effect.gen(function*() {
        const kp = schemes[1]![1]
        const keys = yield* trusted(kp.publicPem)
        const p1363 = { key: kp.privateKey, dsaEncoding: "ieee-p1363" } as const
        const sig = cryptoSign("sha256", artifact, p1363)
        assert.strictEqual(sig.length, 64)
        const f = yield* verifyRawSignature("a.bin", artifact, sig, keys)
        assert.strictEqual(f.reason, "valid")
      }))
  })

  describe("#loadSigningKey", () => {
    it.effect("fails with unsupported-key for an RSA key under 2048 bits", () =>
      Effect.gen(function*() {
        const e = yield* Effect.flip(loadSigningKey(rsa(1024).privatePem))
        assert.strictEqual(e.reason, "unsupported-key")
      }))

    it.effect("fails with malformed for text that is no key", () =>
      Effect.gen(function*() {
        const e = yield* Effect.flip(loadSigningKey("not a key"))
        assert.strictEqual(e.reason, "malformed")
      }))
  })

  describe("when checked against the openssl binary", () => {
    const skip = missing("openssl")
    const openssl = "openssl"

    it.scoped.skipIf(skip)(`openssl verifies relpub signatures${skip}`, () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const file = write(dir, "artifact.bin", artifact)
        for (const [name, kp] of schemes) {
          const pub = write(dir, `${name}.pub.pem`, kp.publicPem)
          const sigPath = write(dir, `${name}.sig`, yield* sign(kp.privatePem, artifact))
          const args = name === "ed25519"
            ? ["pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", file,
              "-sigfile", sigPath]
            : name === "ecdsa-p256"
            ? ["dgst", "-sha256", "-verify", pub, "-signature", sigPath, file]
            : ["dgst", "-sha256", ...pss("32"), "-verify", pub, "-signature", sigPath, file]
          assert.isTrue(yield* succeeds(openssl, args), `openssl rejected the ${name} signature`)
          write(dir, "artifact.bin", "tampered")
          assert.isFalse(yield* succeeds(openssl, args), `openssl accepted a tampered ${name} file`)
          write(dir, "artifact.bin", artifact)
        }
      }))

    it.scoped.skipIf(skip)(`relpub verifies openssl signatures${skip}`, () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const file = write(dir, "artifact.bin", artifact)
        const signArgs: Record<string, ReadonlyArray<ReadonlyArray<string>>> = {
          "ed25519": [["pkeyutl", "-sign", "-rawin", "-in", file]],
          "ecdsa-p256": [["dgst", "-sha256", file]],
          "rsa-pss-sha256": [
            ["dgst", "-sha256", ...pss("32"), file],
            ["dgst", "-sha256", ...pss("max"), file]
          ]
        }
        for (const [name, kp] of schemes) {
          const key = write(dir, `${name}.key.pem`, kp.privatePem)
          const keys = yield* trusted(kp.publicPem)
          for (const args of signArgs[name]!) {
            const out = join(dir, `${name}.sig`)
            const [cmd, ...rest] = args
            const signFlag = cmd === "pkeyutl" ? ["-inkey", key] : ["-sign", key]
            yield* run(openssl, [cmd!, ...signFlag, "-out", out, ...rest])
            const f = yield* verifyRawSignature("artifact.bin", artifact, readFileSync(out), keys)
            assert.strictEqual(f.reason, "valid", `${name} ${args.join(" ")}`)
          }
        }
      }))
  })
})
