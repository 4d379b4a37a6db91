// fetch against a local repository built by really publishing with a signing
// key: the destination holds exactly the verified files, or stays as it was.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Layer } from "effect"
import { createHash, sign } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { defaultPolicy } from "../../src/domain/Policy.ts"
import { encodeJson, Keys } from "../../src/domain/Records.ts"
import { fetchRelease } from "../../src/services/Fetcher.ts"
import * as Hasher from "../../src/services/Hasher.ts"
import * as LocalRepository from "../../src/services/LocalRepository.ts"
import { publish } from "../../src/services/Publisher.ts"
import { yank } from "../../src/services/Yank.ts"
import { rawKeysFromPem } from "../../src/verify/TrustedKeys.ts"
import { ed25519Signer, scopedRelease, scopedTempDir, stack } from "../support/layers.ts"
import type { ReleaseFixture } from "../support/release.ts"
import { snapshotTree } from "../support/release.ts"

const KEY = ed25519Signer()
const OTHER = ed25519Signer()
const V = "v1.0.0"

interface Published {
  readonly root: string
  readonly work: string
  readonly fx: ReleaseFixture
}

/** A local repository with V published, signed (or not), and a work directory to fetch into. */
const published = (signed = true) =>
  Effect.gen(function*() {
    const work = yield* scopedTempDir("relpub-fetch-test-")
    const root = path.join(work, "repo")
    const fx = yield* scopedRelease()
    yield* publish({ releaseDir: fx.dir, version: V, policy: defaultPolicy(), validationResultFile: fx.validationFile })
      .pipe(Effect.provide(stack({ repository: LocalRepository.layer(root), signer: signed ? KEY.layer : undefined })))
    return { root, work, fx } satisfies Published
  })

const fetchInto = (
  p: Published,
  to: string,
  options: { version?: string; pem?: string; allowYanked?: boolean } = {}
) =>
  Effect.gen(function*() {
    const keys = yield* rawKeysFromPem("trusted.pem", options.pem ?? KEY.publicKeyPem)
    return yield* fetchRelease({ version: options.version ?? V, to, keys, allowYanked: options.allowYanked }).pipe(
      Effect.provide(LocalRepository.layer(p.root).pipe(Layer.provide(Hasher.layer)))
    )
  })

/** The failure of `effect` as `tag reason subject` (the tag alone for errors without them). */
const failureOf = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.either(effect), (result) => {
    if (Either.isRight(result)) return "succeeded"
    const e: { readonly _tag: string; readonly reason?: unknown; readonly subject?: unknown } = result.left
    return [e._tag, e.reason, e.subject].filter((x) => x !== undefined).join(" ")
  })

const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex")
const entries = (dir: string) => fs.readdirSync(dir).sort()

describe("fetchRelease", () => {
  describe("when the release is intact and signed by a trusted key", () => {
    it.scoped("writes exactly the recorded files with their SHA-256 into a new directory", () =>
      Effect.gen(function*() {
        const p = yield* published()
        const to = path.join(p.work, "out")
        const outcome = yield* fetchInto(p, to)
        const expected = [...p.fx.files].map((f) => f.path).concat("manifest.json").sort()
        assert.deepStrictEqual(Object.keys(snapshotTree(to)).filter((k) => !k.endsWith("/")).sort(), expected)
        for (const f of outcome.files) assert.strictEqual(sha256(path.join(to, f.path)), f.sha256, f.path)
        assert.deepStrictEqual(entries(p.work), ["out", "repo"], "no temporary directory left beside")
      }))

    it.scoped("fills an existing empty directory", () =>
      Effect.gen(function*() {
        const p = yield* published()
        const to = path.join(p.work, "out")
        fs.mkdirSync(to)
        const outcome = yield* fetchInto(p, to)
        assert.strictEqual(entries(to).length, new Set(outcome.files.map((f) => f.path.split("/")[0])).size)
      }))

    it.scoped("refuses a non-empty destination with a UsageError, touching nothing", () =>
      Effect.gen(function*() {
        const p = yield* published()
        const to = path.join(p.work, "out")
        fs.mkdirSync(to)
        fs.writeFileSync(path.join(to, "mine.txt"), "keep")
        assert.strictEqual(yield* failureOf(fetchInto(p, to)), "UsageError")
        assert.deepStrictEqual(entries(to), ["mine.txt"])
      }))
  })

  describe("when the repository was tampered with", () => {
    it.scoped("an artifact byte flipped: digest-mismatch naming the file, destination absent", () =>
      Effect.gen(function*() {
        const p = yield* published()
        const target = path.join(p.root, Keys.releaseFile(V, "docs/README.md"))
        const bytes = fs.readFileSync(target)
        bytes[0] = bytes[0]! ^ 0x20
        fs.writeFileSync(target, bytes)
        const to = path.join(p.work, "out")
        assert.strictEqual(yield* failureOf(fetchInto(p, to)), "FetchRejected digest-mismatch docs/README.md")
        assert.deepStrictEqual(entries(p.work), ["repo"], "nothing written, no temporary directory left")
      }))

    it.scoped("an artifact grown or deleted: size-mismatch or missing; an empty destination stays empty", () =>
      Effect.gen(function*() {
        const p = yield* published()
        const to = path.join(p.work, "out")
        fs.mkdirSync(to)
        fs.appendFileSync(path.join(p.root, Keys.releaseFile(V, "app.tar.gz")), "x")
        assert.strictEqual(yield* failureOf(fetchInto(p, to)), "FetchRejected size-mismatch app.tar.gz")
        fs.rmSync(path.join(p.root, Keys.releaseFile(V, "app.tar.gz")))
        assert.strictEqual(yield* failureOf(fetchInto(p, to)), "FetchRejected missing app.tar.gz")
        assert.deepStrictEqual(entries(to), [])
        assert.deepStrictEqual(entries(p.work), ["out", "repo"])
      }))

    it.scoped("release.json edited: bad-signature", () =>
      Effect.gen(function*() {
        const p = yield* published()
        const key = path.join(p.root, Keys.releaseRecord(V))
        const record = JSON.parse(fs.readFileSync(key, "utf8"))
        record.files[0].sha256 = "0".repeat(64)
        fs.writeFileSync(key, encodeJson(record))
        const failure = yield* failureOf(fetchInto(p, path.join(p.work, "out")))
        assert.strictEqual(failure, `FetchRejected bad-signature ${Keys.releaseRecord(V)}`)
      }))

    it.scoped("a signed record naming ../x: unsafe-path, nothing written anywhere", () =>
      Effect.gen(function*() {
        const p = yield* published()
        const key = path.join(p.root, Keys.releaseRecord(V))
        const record = JSON.parse(fs.readFileSync(key, "utf8"))
        record.files[0].path = "../x"
        const bytes = encodeJson(record)
        fs.writeFileSync(key, bytes)
        fs.writeFileSync(path.join(p.root, Keys.releaseSignature(V)), sign(null, bytes, KEY.privateKeyPem))
        const failure = yield* failureOf(fetchInto(p, path.join(p.work, "out")))
        assert.strictEqual(failure, `FetchRejected unsafe-path ${Keys.releaseRecord(V)}`)
        assert.deepStrictEqual(entries(p.work), ["repo"])
      }))
  })

  describe("when the record is not signed by a trusted key", () => {
    it.scoped("an untrusted key: unknown-key, destination absent", () =>
      Effect.gen(function*() {
        const p = yield* published()
        const to = path.join(p.work, "out")
        const failure = yield* failureOf(fetchInto(p, to, { pem: OTHER.publicKeyPem }))
        assert.strictEqual(failure, `FetchRejected unknown-key ${Keys.releaseRecord(V)}`)
        assert.isFalse(fs.existsSync(to))
      }))

    it.scoped("no signature: unsigned", () =>
      Effect.gen(function*() {
        const p = yield* published(false)
        const failure = yield* failureOf(fetchInto(p, path.join(p.work, "out")))
        assert.strictEqual(failure, `FetchRejected unsigned ${Keys.releaseRecord(V)}`)
      }))
  })

  describe("when the version is not published", () => {
    it.scoped("fails with ReleaseNotFound", () =>
      Effect.gen(function*() {
        const p = yield* published()
        assert.strictEqual(yield* failureOf(fetchInto(p, path.join(p.work, "out"), { version: "9.9.9" })),
          "ReleaseNotFound")
      }))
  })

  describe("when the version is yanked", () => {
    const yankV = (p: Published) =>
      yank({ version: V, reason: "CVE-2026-0002" }).pipe(
        Effect.provide(stack({ repository: LocalRepository.layer(p.root), signer: KEY.layer }))
      )

    it.scoped("fails with ReleaseYanked saying why, writing nothing", () =>
      Effect.gen(function*() {
        const p = yield* published()
        yield* yankV(p)
        const to = path.join(p.work, "a/out")
        const result = yield* Effect.either(fetchInto(p, to))
        assert.isTrue(Either.isLeft(result))
        if (Either.isLeft(result)) {
          assert.strictEqual(result.left._tag, "ReleaseYanked")
          assert.include(result.left.message, "CVE-2026-0002")
          assert.include(result.left.message, "--allow-yanked")
        }
        assert.deepStrictEqual(entries(p.work), ["repo"], "nothing written, no temporary directory left")
      }))

    it.scoped("with allowYanked fetches it and reports the mark", () =>
      Effect.gen(function*() {
        const p = yield* published()
        const { yanked } = yield* yankV(p)
        const to = path.join(p.work, "out")
        const outcome = yield* fetchInto(p, to, { allowYanked: true })
        assert.deepStrictEqual(outcome.yanked, yanked)
        for (const f of outcome.files) assert.strictEqual(sha256(path.join(to, f.path)), f.sha256, f.path)
      }))

    it.scoped("with allowYanked still verifies: a yanked release whose record lost its signature is rejected", () =>
      Effect.gen(function*() {
        const p = yield* published()
        yield* yankV(p)
        fs.rmSync(path.join(p.root, Keys.releaseSignature(V)))
        const failure = yield* failureOf(fetchInto(p, path.join(p.work, "out"), { allowYanked: true }))
        assert.strictEqual(failure, `FetchRejected unsigned ${Keys.releaseRecord(V)}`)
      }))
  })

  describe("when the version is not yanked", () => {
    it.scoped("reports no mark", () =>
      Effect.gen(function*() {
        const p = yield* published()
        assert.isNull((yield* fetchInto(p, path.join(p.work, "out"))).yanked)
      }))
  })

  describe("when the destination's parents do not exist", () => {
    it.scoped("creates them on success, and removes them again after a refused fetch", () =>
      Effect.gen(function*() {
        const p = yield* published()
        const target = path.join(p.root, Keys.releaseFile(V, "app.tar.gz"))
        const flip = () => {
          const bytes = fs.readFileSync(target)
          bytes[7] = bytes[7]! ^ 0x01
          fs.writeFileSync(target, bytes)
        }
        flip()
        const to = path.join(p.work, "a/b/out")
        assert.strictEqual(yield* failureOf(fetchInto(p, to)), "FetchRejected digest-mismatch app.tar.gz")
        assert.deepStrictEqual(entries(p.work), ["repo"])
        flip()
        yield* fetchInto(p, to)
        assert.deepStrictEqual(entries(path.join(p.work, "a/b")), ["out"])
      }))
  })
})
