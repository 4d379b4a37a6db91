import { dsse } from "@sigstore/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { pae, parseEnvelope, signEnvelope, verifyEnvelope } from "../../src/verify/Dsse.ts"
import { loadSigningKey } from "../../src/verify/RawSignature.ts"
import { rawKeysFromPem } from "../../src/verify/TrustedKeys.ts"
import { bytes, ed25519, p256, rsa } from "./helpers.ts"

const payload = bytes(JSON.stringify({ _type: "https://in-toto.io/Statement/v1" }))
const TYPE = "application/vnd.in-toto+json"

const signer = (pem: string) => Effect.orDie(loadSigningKey(pem))
const trust = (pem: string) => Effect.orDie(rawKeysFromPem("dsse.pem", pem))

describe("Dsse", () => {
  describe("#pae", () => {
    it("matches the DSSE protocol test vector", () => {
      const out = pae("http://example.com/HelloWorld", bytes("hello world"))
      assert.strictEqual(Buffer.from(out).toString("utf8"),
        "DSSEv1 29 http://example.com/HelloWorld 11 hello world")
    })

    it("matches @sigstore/core for a non-ASCII payload type", () => {
      const type = "application/vnd.exämple+json"
      const body = bytes("{\"ü\":1}")
      const theirs = dsse.preAuthEncoding(type, Buffer.from(body))
      assert.deepStrictEqual(Buffer.from(pae(type, body)), theirs)
    })
  })

  describe("#verifyEnvelope", () => {
    const schemes = [["ed25519", ed25519], ["ecdsa-p256", p256], ["rsa-pss", rsa]] as const
    for (const [name, make] of schemes) {
      describe(`when signed with ${name}`, () => {
        it.effect("returns valid for an envelope signed by a trusted key", () =>
          Effect.gen(function*() {
            const kp = make()
            const env = signEnvelope(TYPE, payload, yield* signer(kp.privatePem))
            const parsed = yield* parseEnvelope(JSON.stringify(env))
            const f = yield* verifyEnvelope("p.intoto.json", parsed, yield* trust(kp.publicPem))
            assert.strictEqual(f.reason, "valid")
          }))

        it.effect("fails with bad-signature when the payload type was changed", () =>
          Effect.gen(function*() {
            const kp = make()
            const env = signEnvelope(TYPE, payload, yield* signer(kp.privatePem))
            const f = yield* verifyEnvelope("p", { ...env, payloadType: "text/plain" },
              yield* trust(kp.publicPem))
            assert.strictEqual(f.reason, "bad-signature")
          }))
      })
    }

    it.effect("fails with bad-signature when the payload was changed", () =>
      Effect.gen(function*() {
        const kp = ed25519()
        const env = signEnvelope(TYPE, payload, yield* signer(kp.privatePem))
        const changed = { ...env, payload: Buffer.from("{}").toString("base64") }
        const f = yield* verifyEnvelope("p", changed, yield* trust(kp.publicPem))
        assert.strictEqual(f.reason, "bad-signature")
      }))

    it.effect("fails with unknown-key when the signer is not trusted", () =>
      Effect.gen(function*() {
        const env = signEnvelope(TYPE, payload, yield* signer(ed25519().privatePem))
        const f = yield* verifyEnvelope("p", env, yield* trust(ed25519().publicPem))
        assert.strictEqual(f.reason, "unknown-key")
      }))

    it.effect("accepts URL-safe unpadded base64", () =>
      Effect.gen(function*() {
        const kp = p256()
        const env = signEnvelope(TYPE, payload, yield* signer(kp.privatePem))
        const urlSafe = {
          ...env,
          payload: Buffer.from(env.payload, "base64").toString("base64url"),
          signatures: [{
            sig: Buffer.from(env.signatures[0].sig, "base64").toString("base64url")
          }] as const
        }
        const f = yield* verifyEnvelope("p", urlSafe, yield* trust(kp.publicPem))
        assert.strictEqual(f.reason, "valid")
      }))
  })

  describe("#parseEnvelope", () => {
    it.effect("fails with malformed when signatures are missing", () =>
      Effect.gen(function*() {
        const noSignatures = { payload: "", payloadType: TYPE }
        const e = yield* Effect.flip(parseEnvelope(JSON.stringify(noSignatures)))
        assert.strictEqual(e.reason, "malformed")
        const empty = { payload: "", payloadType: TYPE, signatures: [] }
        const f = yield* Effect.flip(parseEnvelope(JSON.stringify(empty)))
        assert.strictEqual(f.reason, "malformed")
      }))

    it.effect("fails with malformed when the payload is not base64", () =>
      Effect.gen(function*() {
        const env = { payload: "%%%", payloadType: TYPE, signatures: [{ sig: "AA==" }] }
        const e = yield* Effect.flip(parseEnvelope(env))
        assert.strictEqual(e.reason, "malformed")
      }))
  })
})
