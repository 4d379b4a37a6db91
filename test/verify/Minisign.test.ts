import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { encodeMinisignPublicKey, signMinisign, verifyMinisign } from "../../src/verify/Minisign.ts"
import { loadTrustedKeys, minisignKeyFromText } from "../../src/verify/TrustedKeys.ts"
import { bytes, ed25519, missing, run, succeeds, tempDir, write } from "./helpers.ts"

const artifact = bytes("minisign me\n")

const makeSigner = () => {
  const kp = ed25519()
  const keyNum = new Uint8Array(randomBytes(8))
  const pubText = encodeMinisignPublicKey(keyNum, kp.publicKey)
  return { kp, keyNum, pubText }
}

const trust = (pubText: string) => Effect.orDie(minisignKeyFromText("minisign.pub", pubText))

describe("Minisign", () => {
  describe("#verifyMinisign", () => {
    for (const legacy of [false, true]) {
      describe(`when the signature is ${legacy ? "legacy (Ed)" : "prehashed (ED)"}`, () => {
        it.effect("returns valid with the minisign key id", () =>
          Effect.gen(function*() {
            const s = makeSigner()
            const key = yield* trust(s.pubText)
            const sig = yield* signMinisign(artifact, {
              secretKey: s.kp.privateKey,
              keyNum: s.keyNum,
              trustedComment: "timestamp:1700000000\tfile:a.bin",
              legacy
            })
            const f = yield* verifyMinisign("a.bin", artifact, sig, [key])
            assert.strictEqual(f.reason, "valid")
            assert.strictEqual(f.key, key.id)
            assert.include(f.detail, "file:a.bin")
          }))

        it.effect("fails with bad-signature when the file was changed", () =>
          Effect.gen(function*() {
            const s = makeSigner()
            const key = yield* trust(s.pubText)
            const sig = yield* signMinisign(artifact, {
              secretKey: s.kp.privateKey,
              keyNum: s.keyNum,
              trustedComment: "t",
              legacy
            })
            const f = yield* verifyMinisign("a.bin", bytes("changed"), sig, [key])
            assert.strictEqual(f.reason, "bad-signature")
          }))
      })
    }

    it.effect("fails with bad-signature when the trusted comment was altered", () =>
      Effect.gen(function*() {
        const s = makeSigner()
        const key = yield* trust(s.pubText)
        const sig = yield* signMinisign(artifact, {
          secretKey: s.kp.privateKey,
          keyNum: s.keyNum,
          trustedComment: "file:a.bin"
        })
        const altered = sig.replace("trusted comment: file:a.bin", "trusted comment: file:b.bin")
        const f = yield* verifyMinisign("a.bin", artifact, altered, [key])
        assert.strictEqual(f.reason, "bad-signature")
        assert.include(f.detail, "trusted comment")
      }))

    it.effect("fails with unknown-key when the key id is not trusted", () =>
      Effect.gen(function*() {
        const s = makeSigner()
        const other = yield* trust(makeSigner().pubText)
        const sig = yield* signMinisign(artifact, {
          secretKey: s.kp.privateKey,
          keyNum: s.keyNum,
          trustedComment: "t"
        })
        const f = yield* verifyMinisign("a.bin", artifact, sig, [other])
        assert.strictEqual(f.reason, "unknown-key")
      }))

    it.effect("fails with malformed for text that is no minisign signature", () =>
      Effect.gen(function*() {
        const f = yield* verifyMinisign("a.bin", artifact, "untrusted comment: x\nAAAA\n", [])
        assert.strictEqual(f.reason, "malformed")
      }))

    it.effect("fails with unsupported-format for an unknown signature algorithm", () =>
      Effect.gen(function*() {
        const s = makeSigner()
        const sig = yield* signMinisign(artifact, {
          secretKey: s.kp.privateKey,
          keyNum: s.keyNum,
          trustedComment: "t"
        })
        const lines = sig.split("\n")
        const block = Buffer.from(lines[1]!, "base64")
        block.write("Xx", 0, "latin1")
        lines[1] = block.toString("base64")
        const f = yield* verifyMinisign("a.bin", artifact, lines.join("\n"), [])
        assert.strictEqual(f.reason, "unsupported-format")
      }))
  })

  describe("when checked against the minisign binary", () => {
    const skip = missing("minisign")

    it.scoped.skipIf(skip)(`relpub and minisign accept each other's signatures${skip}`, () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const keysDir = yield* tempDir
        const file = write(dir, "a.bin", artifact)
        const pub = join(keysDir, "release.pub")
        const sec = join(dir, "release.key")
        yield* run("minisign", ["-G", "-W", "-p", pub, "-s", sec])
        const trusted = yield* loadTrustedKeys(keysDir)
        assert.strictEqual(trusted.minisign.length, 1)

        for (const legacy of [[], ["-l"]]) {
          const sigPath = `${file}.minisig`
          yield* run("minisign", ["-S", ...legacy, "-s", sec, "-m", file, "-x", sigPath,
            "-t", "made by minisign"])
          const sigText = readFileSync(sigPath, "utf8")
          const f = yield* verifyMinisign("a.bin", artifact, sigText, trusted.minisign)
          assert.strictEqual(f.reason, "valid", `minisign -S ${legacy.join(" ")}`)
          const bad = yield* verifyMinisign("a.bin", bytes("x"), sigText, trusted.minisign)
          assert.strictEqual(bad.reason, "bad-signature")
        }

        const ours = makeSigner()
        const ourPub = write(dir, "ours.pub", ours.pubText)
        for (const legacy of [false, true]) {
          const sigPath = write(dir, "ours.minisig", yield* signMinisign(artifact, {
            secretKey: ours.kp.privateKey,
            keyNum: ours.keyNum,
            trustedComment: "made by relpub",
            legacy
          }))
          const verifyArgs = ["-V", "-p", ourPub, "-m", file, "-x", sigPath]
          assert.isTrue(yield* succeeds("minisign", verifyArgs), `minisign -V, legacy=${legacy}`)
          write(dir, "a.bin", "tampered")
          assert.isFalse(yield* succeeds("minisign", verifyArgs))
          write(dir, "a.bin", artifact)
        }
      }).pipe(Effect.provide(NodeFileSystem.layer)))
  })
})
