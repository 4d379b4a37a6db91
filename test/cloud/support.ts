// What every part of the cloud suite shares: the server of the test file (its
// target and an SDK client), fresh repository roots, and bin/relpub runs with
// the server's credentials.
import { assert } from "@effect/vitest"
import { generateKeyPairSync } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, type Scope } from "effect"
import { describeResult, listFiles, runCli, type RunOptions } from "../support/cli.ts"
import type { ReleaseFixture } from "../support/release.ts"
import { checkStore, type ObjectStore, sha256, snapshotStore } from "./store.ts"
import type { CloudTarget } from "./targets.ts"

/** The server a test file runs against. */
export interface Cloud {
  readonly target: CloudTarget
  readonly store: ObjectStore
}

/** What a section of the suite gets: the server (inside a test) and fresh roots. */
export interface SuiteContext {
  readonly cloud: () => Cloud
  /** A key prefix no other test uses: one repository per test. */
  readonly fresh: (slug: string) => string
  /**
   * A fresh root whose backend probe has already run: it holds the
   * `.relpub/guarantees.json` relpub wrote for this server in another root,
   * as a repository does after its first publish. Spares each test the probe
   * (up to ~7 s on SeaweedFS, which serialises the probe's 16 racing writes).
   */
  readonly probed: (slug: string) => Effect.Effect<string, never, Scope.Scope>
}

/** Run bin/relpub with the server's credentials (and `env` on top). */
export const relpub = (cloud: Cloud, args: ReadonlyArray<string>, options: RunOptions = {}) =>
  runCli(args, { ...options, env: { ...cloud.target.env, ...options.env } })

export const publishArgs = (
  release: ReleaseFixture,
  version: string,
  repository: ReadonlyArray<string>,
  extra: ReadonlyArray<string> = []
) => [
  "publish", release.dir, "--version", version, ...repository,
  "--validation-result", release.validationFile, ...extra
]

/** Publish and insist on exit 0. */
export const publishOk = (
  cloud: Cloud,
  release: ReleaseFixture,
  version: string,
  repository: ReadonlyArray<string>,
  extra: ReadonlyArray<string> = []
) =>
  Effect.tap(relpub(cloud, publishArgs(release, version, repository, extra)), (r) =>
    Effect.sync(() => assert.strictEqual(r.code, 0, describeResult(r))))

/** The repository at `root` checked against the invariants; fails the test on any problem. */
export const checked = (cloud: Cloud, root: string) =>
  Effect.promise(() => checkStore(cloud.store, root)).pipe(
    Effect.tap((c) => Effect.sync(() => assert.deepStrictEqual(c.problems, [], `invariants of ${root}`)))
  )

export const indexedVersions = (check: { readonly index: any }): Array<string> =>
  check.index === undefined ? [] : check.index.releases.map((e: any) => e.version)

export const keysUnder = (cloud: Cloud, root: string) =>
  Effect.promise(() => cloud.store.list(`${root}/`)).pipe(
    Effect.map((objects) => objects.map((o) => o.key.slice(root.length + 1)))
  )

/** Nothing at all under `root`: no object and no unfinished upload. */
export const assertNothingWritten = (cloud: Cloud, root: string) =>
  Effect.gen(function*() {
    assert.deepStrictEqual(yield* keysUnder(cloud, root), [], `objects under ${root}`)
    const pending = yield* Effect.promise(() => cloud.store.pendingUploads(`${root}/`))
    assert.deepStrictEqual(pending, [], `unfinished uploads under ${root}`)
  })

export const snapshot = (cloud: Cloud, root: string, exclude?: (key: string) => boolean) =>
  Effect.promise(() => snapshotStore(cloud.store, root, exclude))

/** Publish `seed` as v0.9.0 at `root` (straight to the server) and snapshot the result. */
export const seeded = (cloud: Cloud, root: string, seed: ReleaseFixture) =>
  Effect.zipRight(
    publishOk(cloud, seed, "v0.9.0", cloud.target.repository(root)),
    snapshot(cloud, root)
  )

/** The files a publish of `release` puts under releases/<version>/, sorted by path. */
export const expectedFiles = (release: ReleaseFixture) =>
  listFiles(release.dir).map((p) => {
    const bytes = fs.readFileSync(path.join(release.dir, p))
    return { path: p, sha256: sha256(bytes), size: bytes.length }
  })

/** An Ed25519 signing key (PKCS#8 PEM) beside the release; returns its file and base64 body. */
export const signingKey = (release: ReleaseFixture) => {
  const { privateKey } = generateKeyPairSync("ed25519", {
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" }
  })
  const file = path.join(release.root, "signing.key")
  fs.writeFileSync(file, privateKey, { mode: 0o600 })
  const body = privateKey.split("\n").filter((l) => l !== "" && !l.startsWith("-----")).join("")
  return { file, body }
}

/** Write `content` (JSON unless a string) beside the release directory. */
export const scratch = (release: ReleaseFixture, name: string, content: unknown) => {
  const file = path.join(release.root, name)
  fs.writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content))
  return file
}

export const readJson = (file: string): any => JSON.parse(fs.readFileSync(file, "utf8"))
