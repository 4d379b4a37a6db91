import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { createHash, X509Certificate } from "node:crypto"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { IN_TOTO_PAYLOAD_TYPE, signEnvelope } from "../../src/verify/Dsse.ts"
import { loadSigningKey, signWith } from "../../src/verify/RawSignature.ts"
import { type SigstoreOptions, verifySigstoreBundle } from "../../src/verify/Sigstore.ts"
import { rawKeysFromPem } from "../../src/verify/TrustedKeys.ts"
import { bytes, ed25519, type KeyPair, missing, p256, rsa, run, tempDir, write } from "./helpers.ts"

const artifact = bytes("sigstore me\n")
const digest = (b: Uint8Array) => createHash("sha256").update(b).digest()
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64")

const keyOf = (kp: KeyPair) =>
  Effect.gen(function*() {
    const signing = yield* Effect.orDie(loadSigningKey(kp.privatePem))
    const trusted = yield* Effect.orDie(rawKeysFromPem("release.pem", kp.publicPem))
    return { signing, trusted }
  })

// A Sigstore bundle v0.3 with a public-key hint and a message signature.
const messageBundle = (hint: string, data: Uint8Array, signature: Uint8Array) => ({
  mediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
  verificationMaterial: {
    publicKey: { hint },
    tlogEntries: [],
    timestampVerificationData: { rfc3161Timestamps: [] }
  },
  messageSignature: {
    messageDigest: { algorithm: "SHA2_256", digest: b64(digest(data)) },
    signature: b64(signature)
  }
})

const dsseBundle = (hint: string, envelope: unknown) => ({
  mediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
  verificationMaterial: { publicKey: { hint }, tlogEntries: [] },
  dsseEnvelope: envelope
})

const verify = (bundle: unknown, data: Uint8Array, options: SigstoreOptions) =>
  verifySigstoreBundle("a.bin.sigstore.json", bytes(JSON.stringify(bundle)), data, options)

const SAN = "https://github.com/acme/widget/.github/workflows/release.yml@refs/tags/v1.0.0"
const ISSUER = "https://token.actions.githubusercontent.com"

// A private Sigstore-like PKI made with openssl: a root CA, a Fulcio-style leaf
// (code signing, SAN URI, OIDC issuer extension 1.3.6.1.4.1.57264.1.8) and an
// RFC 3161 TSA whose timestamp over the signature dates it.
const makePki = () =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const at = (name: string) => join(dir, name)
    const ossl = (...args: ReadonlyArray<string>) => run("openssl", args, { cwd: dir })
    write(dir, "leaf.ext", [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=codeSigning",
      `subjectAltName=URI:${SAN}`,
      `1.3.6.1.4.1.57264.1.8=ASN1:UTF8String:${ISSUER}`,
      "authorityKeyIdentifier=keyid",
      "subjectKeyIdentifier=hash"
    ].join("\n"))
    write(dir, "tsa.ext", [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=critical,timeStamping",
      "authorityKeyIdentifier=keyid",
      "subjectKeyIdentifier=hash"
    ].join("\n"))
    write(dir, "tsa.cnf", [
      "[ tsa ]", "default_tsa = tsa_config", "[ tsa_config ]", "serial = ./tsaserial",
      "signer_digest = sha256", "default_policy = 1.2.3.4.1", "digests = sha256",
      "ess_cert_id_alg = sha256"
    ].join("\n"))
    write(dir, "tsaserial", "01\n")
    const ec = ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out"]
    yield* ossl(...ec, "root.key")
    yield* ossl("req", "-x509", "-new", "-key", "root.key", "-subj", "/O=relpub-test/CN=root",
      "-days", "30", "-out", "root.pem", "-addext", "basicConstraints=critical,CA:TRUE",
      "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for (const n of ["leaf", "tsa"]) {
      yield* ossl(...ec, `${n}.key`)
      yield* ossl("req", "-new", "-key", `${n}.key`, "-subj", `/O=relpub-test/CN=${n}`,
        "-out", `${n}.csr`)
      yield* ossl("x509", "-req", "-in", `${n}.csr`, "-CA", "root.pem", "-CAkey", "root.key",
        "-set_serial", "0x" + createHash("sha256").update(n + dir).digest("hex").slice(0, 16),
        "-days", "2", "-out", `${n}.pem`, "-extfile", `${n}.ext`)
    }
    const art = write(dir, "artifact.bin", artifact)
    yield* ossl("dgst", "-sha256", "-sign", "leaf.key", "-out", "sig.bin", art)
    yield* ossl("ts", "-query", "-data", "sig.bin", "-sha256", "-cert", "-no_nonce",
      "-out", "req.tsq")
    yield* ossl("ts", "-reply", "-config", "tsa.cnf", "-queryfile", "req.tsq", "-inkey", "tsa.key",
      "-signer", "tsa.pem", "-out", "resp.tsr")
    const der = (name: string) => b64(new X509Certificate(readFileSync(at(name))).raw)
    const authority = (certs: ReadonlyArray<string>) => ({
      subject: { organization: "relpub-test", commonName: "root" },
      uri: "https://ca.example.com",
      certChain: { certificates: certs.map((c) => ({ rawBytes: der(c) })) },
      validFor: { start: "2020-01-01T00:00:00Z" }
    })
    const root = {
      mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
      tlogs: [],
      ctlogs: [],
      certificateAuthorities: [authority(["root.pem"])],
      timestampAuthorities: [authority(["tsa.pem", "root.pem"])]
    }
    const bundle = {
      ...messageBundle("", artifact, readFileSync(at("sig.bin"))),
      verificationMaterial: {
        certificate: { rawBytes: der("leaf.pem") },
        tlogEntries: [],
        timestampVerificationData: {
          rfc3161Timestamps: [{ signedTimestamp: b64(readFileSync(at("resp.tsr"))) }]
        }
      }
    }
    return { root, bundle }
  })

describe("Sigstore", () => {
  describe("#verifySigstoreBundle", () => {
    const schemes = [["ecdsa-p256", p256], ["ed25519", ed25519], ["rsa-pss", rsa]] as const
    for (const [name, make] of schemes) {
      describe(`when a ${name} public-key bundle holds a message signature`, () => {
        it.effect("returns valid for the signed artifact", () =>
          Effect.gen(function*() {
            const { signing, trusted } = yield* keyOf(make())
            const bundle = messageBundle(trusted[0]!.id, artifact, signWith(signing, artifact))
            const f = yield* verify(bundle, artifact, { keys: trusted })
            assert.strictEqual(f.reason, "valid", f.detail)
            assert.strictEqual(f.key, trusted[0]!.id)
          }))

        it.effect("fails with digest-mismatch for a tampered artifact", () =>
          Effect.gen(function*() {
            const { signing, trusted } = yield* keyOf(make())
            const bundle = messageBundle(trusted[0]!.id, artifact, signWith(signing, artifact))
            const f = yield* verify(bundle, bytes("tampered"), { keys: trusted })
            assert.strictEqual(f.reason, "digest-mismatch")
          }))

        it.effect("fails with unknown-key when the key is not trusted", () =>
          Effect.gen(function*() {
            const { signing, trusted } = yield* keyOf(make())
            const other = yield* keyOf(make())
            const bundle = messageBundle(trusted[0]!.id, artifact, signWith(signing, artifact))
            const f = yield* verify(bundle, artifact, { keys: other.trusted })
            assert.strictEqual(f.reason, "unknown-key")
          }))

        it.effect("fails with bad-signature when the named key did not sign", () =>
          Effect.gen(function*() {
            const { trusted } = yield* keyOf(make())
            const other = yield* keyOf(make())
            const sig = signWith(other.signing, artifact)
            const bundle = messageBundle(trusted[0]!.id, artifact, sig)
            const f = yield* verify(bundle, artifact, { keys: trusted })
            assert.strictEqual(f.reason, "bad-signature")
          }))
      })
    }

    describe("when a public-key bundle holds a DSSE envelope", () => {
      const statement = (sha256: string) =>
        bytes(JSON.stringify({
          _type: "https://in-toto.io/Statement/v1",
          subject: [{ name: "a.bin", digest: { sha256 } }],
          predicateType: "https://slsa.dev/provenance/v1",
          predicate: {}
        }))

      it.effect("returns valid when the statement names the artifact", () =>
        Effect.gen(function*() {
          const { signing, trusted } = yield* keyOf(p256())
          const about = statement(digest(artifact).toString("hex"))
          const env = signEnvelope(IN_TOTO_PAYLOAD_TYPE, about, signing)
          const f = yield* verify(dsseBundle("k", env), artifact, { keys: trusted })
          assert.strictEqual(f.reason, "valid", f.detail)
        }))

      it.effect("fails with subject-missing when the statement is about another file", () =>
        Effect.gen(function*() {
          const { signing, trusted } = yield* keyOf(ed25519())
          const env = signEnvelope(IN_TOTO_PAYLOAD_TYPE, statement("00".repeat(32)), signing)
          const f = yield* verify(dsseBundle(trusted[0]!.id, env), artifact, { keys: trusted })
          assert.strictEqual(f.reason, "subject-missing")
        }))
    })

    describe("when the input is not a usable bundle", () => {
      it.effect("fails with malformed for JSON that is not a bundle", () =>
        Effect.gen(function*() {
          const f = yield* verify({ mediaType: "text/plain" }, artifact, { keys: [] })
          assert.strictEqual(f.reason, "malformed")
          const g = yield* verifySigstoreBundle("x", bytes("{"), artifact, { keys: [] })
          assert.strictEqual(g.reason, "malformed")
        }))

      it.effect("fails with unknown-key for a certificate bundle without a trusted root", () =>
        Effect.gen(function*() {
          const bundle = {
            ...messageBundle("", artifact, bytes("sig")),
            verificationMaterial: {
              certificate: { rawBytes: b64(bytes("not a cert")) },
              tlogEntries: []
            }
          }
          const f = yield* verify(bundle, artifact, { keys: [] })
          assert.strictEqual(f.reason, "unknown-key")
          const badRoot = {
            mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            certificateAuthorities: [{
              certChain: { certificates: [{ rawBytes: b64(bytes("x")) }] }
            }]
          }
          const g = yield* verify(bundle, artifact, { keys: [], trustedRoot: badRoot })
          assert.strictEqual(g.reason, "unknown-key")
          assert.include(g.detail, "trusted root")
        }))
    })

    describe("when a certificate bundle is checked against a trusted root", () => {
      const skip = missing("openssl")

      const name = `verifies the chain, the RFC 3161 timestamp and the identity${skip}`
      it.scoped.skipIf(skip)(name, () =>
        Effect.gen(function*() {
          const pki = yield* makePki()
          const ok = yield* verify(pki.bundle, artifact, {
            keys: [],
            trustedRoot: pki.root,
            identity: { subjectAlternativeName: SAN, issuer: ISSUER },
            thresholds: { tlog: 0, ctlog: 0, timestamp: 1 }
          })
          assert.strictEqual(ok.reason, "valid", ok.detail)
          assert.strictEqual(ok.key, SAN)

          const base = { keys: [], trustedRoot: pki.root, thresholds: { tlog: 0, ctlog: 0 } }
          const wrongSan = yield* verify(pki.bundle, artifact, {
            ...base,
            identity: { subjectAlternativeName: SAN.replace("v1.0.0", "v1.0.1") }
          })
          assert.strictEqual(wrongSan.reason, "identity-mismatch")
          const wrongIssuer = yield* verify(pki.bundle, artifact, {
            ...base,
            identity: { issuer: "https://accounts.example.com" }
          })
          assert.strictEqual(wrongIssuer.reason, "identity-mismatch")
          const tampered = yield* verify(pki.bundle, bytes("tampered"), base)
          assert.strictEqual(tampered.reason, "digest-mismatch")
          const otherCa = yield* makePki()
          const untrusted = yield* verify(pki.bundle, artifact, {
            ...base,
            trustedRoot: otherCa.root
          })
          assert.isFalse(untrusted.ok)
          const strict = yield* verify(pki.bundle, artifact, { keys: [], trustedRoot: pki.root })
          assert.isFalse(strict.ok)
          assert.include(strict.detail, "SCT")
          const noCt = yield* verify(pki.bundle, artifact, { ...base, thresholds: { ctlog: 0 } })
          assert.strictEqual(noCt.reason, "bad-signature")
          assert.include(noCt.detail, "tlog")
        }))
    })
  })
})
