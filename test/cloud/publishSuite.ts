// The publisher's end-to-end suite against one real object-store server:
// bin/relpub as a user runs it, the bucket inspected through the vendor SDK.
// Call `publishSuite(name, options)` from one test file per server; the server
// starts in beforeAll (scripts/servers/servers.mjs) and every test works in a
// repository of its own (a fresh key prefix).
import { assert, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { afterAll, beforeAll, beforeEach, describe } from "vitest"
import { type ServerName, serverFor } from "../contract/servers.ts"
import { assertBuilt, describeResult, scopedRelease } from "../support/cli.ts"
import type { ReleaseFixture } from "../support/release.ts"
import { faultTests, killTests } from "./faults.ts"
import { secretTests } from "./secrets.ts"
import { GUARANTEES, openStore } from "./store.ts"
import {
  assertNothingWritten,
  checked,
  type Cloud,
  expectedFiles,
  indexedVersions,
  keysUnder,
  publishArgs,
  publishOk,
  readJson,
  relpub,
  scratch,
  signingKey,
  snapshot,
  type SuiteContext
} from "./support.ts"
import { targetFor } from "./targets.ts"

export interface SuiteOptions {
  readonly title: string
  /** Fault-proxy tests: all of them, or the core ones (the others are skipped). */
  readonly faults: "all" | "core"
  /** Run the SIGKILL-during-multipart-upload test. */
  readonly kill?: boolean
  /** Also run the tests whose outcome does not depend on the server (once is enough). */
  readonly backendIndependent?: boolean
}

/** Racing publishers in the race tests. */
export const RACERS = 16
const RACE_TIMEOUT = 150_000

interface Refusal {
  readonly code: number
  readonly what: string
  readonly version?: string
  readonly validation?: false
  readonly setup?: (release: ReleaseFixture) => void
  readonly extra?: (release: ReleaseFixture) => ReadonlyArray<string>
}

// One publish per exit code that a release can earn before anything is written.
const refusals: ReadonlyArray<Refusal> = [
  { code: 2, what: "a version that is not a semantic version", version: "1.0" },
  {
    code: 30,
    what: "a file whose SHA-256 differs from manifest.json",
    setup: (r) => {
      const file = path.join(r.dir, "app.tar.gz")
      const bytes = fs.readFileSync(file)
      bytes[7] = bytes[7]! ^ 0xff
      fs.writeFileSync(file, bytes)
    }
  },
  {
    code: 30,
    what: "a verification result with passed: false",
    extra: (r) => ["--verification-result", scratch(r, "failed.json", { passed: false })]
  },
  { code: 31, what: "no validation result under the strict policy", validation: false },
  {
    code: 33,
    what: "a file the manifest does not list",
    setup: (r) => fs.writeFileSync(path.join(r.dir, "extra.bin"), "surprise")
  },
  { code: 34, what: "no signature while --require-signatures", extra: () => ["--require-signatures"] },
  { code: 35, what: "no encrypted file while --require-encryption", extra: () => ["--require-encryption"] },
  {
    code: 38,
    what: "a file a policy-file rule forbids",
    extra: (r) => ["--policy-file", scratch(r, "policy.json", { forbidden_extensions: [".gz"] })]
  }
]

const exitCodeTests = ({ cloud, fresh, probed }: SuiteContext) => {
  describe("when the release passes the policy", () => {
    it.scopedLive("exits 0; list, show and the bucket hold the files, record, index and audit entry", () =>
      Effect.gen(function*() {
        const c = cloud()
        const root = fresh("layout")
        const release = yield* scopedRelease()
        const key = signingKey(release)
        const reportFile = path.join(release.root, "report.json")
        yield* publishOk(c, release, "v1.0.0", c.target.repository(root),
          ["--signing-key", key.file, "--json-report", reportFile])
        const files = expectedFiles(release)
        const report = readJson(reportFile)
        assert.strictEqual(report.status, "success")
        assert.deepStrictEqual([...report.artifacts_published].sort(), files.map((f) => f.path))

        // relpub's own view, once with the original specification's flags.
        const list = yield* relpub(c, ["list", "--json", ...c.target.typedRepository(root)])
        assert.strictEqual(list.code, 0, describeResult(list))
        const index = JSON.parse(list.stdout)
        assert.deepStrictEqual(indexedVersions({ index }), ["v1.0.0"])
        assert.strictEqual(index.releases[0].sha256, report.release_sha256)
        const show = yield* relpub(c, ["show", "v1.0.0", "--json", ...c.target.repository(root)])
        assert.strictEqual(show.code, 0, describeResult(show))
        const record = JSON.parse(show.stdout)
        const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : 1)
        assert.deepStrictEqual([...record.files].sort(byPath), files)
        assert.isString(record.signing_key_id)

        // The bucket's view, through the SDK.
        assert.deepStrictEqual(yield* keysUnder(c, root), [
          GUARANTEES,
          "audit/v1.0.0.audit.json",
          "audit/v1.0.0.audit.sig",
          "index.json",
          "index.md",
          ...[...files.map((f) => f.path), "release.json", "release.json.sig"].sort()
            .map((p) => `releases/v1.0.0/${p}`)
        ])
        const probe = yield* Effect.promise(() => c.store.read(`${root}/${GUARANTEES}`))
        assert.deepStrictEqual(JSON.parse(probe!.toString("utf8")).probes.filter((p: any) => !p.ok), [])
        const check = yield* checked(c, root)
        assert.deepStrictEqual(check.index, index)
        const chain = check.chain.map((l) => [l.sequence, l.event, l.version])
        assert.deepStrictEqual(chain, [[1, "publish", "v1.0.0"]])
        const stored = yield* Effect.promise(() => c.store.read(`${root}/releases/v1.0.0/release.json`))
        assert.deepStrictEqual(JSON.parse(stored!.toString("utf8")), record)
        const markdown = yield* Effect.promise(() => c.store.read(`${root}/index.md`))
        assert.include(markdown!.toString("utf8"), "v1.0.0")
      }))

    it.scopedLive("exits 32 on a second publish of the version, in either spelling, changing nothing", () =>
      Effect.gen(function*() {
        const c = cloud()
        const root = yield* probed("duplicate")
        yield* publishOk(c, yield* scopedRelease(), "v1.0.0", c.target.repository(root))
        const before = yield* snapshot(c, root)
        const other = yield* scopedRelease()
        for (const version of ["v1.0.0", "1.0.0"]) {
          const r = yield* relpub(c, publishArgs(other, version, c.target.repository(root)))
          assert.strictEqual(r.code, 32, describeResult(r))
          assert.include(r.stderr, "already published")
        }
        assert.deepStrictEqual(yield* snapshot(c, root), before)
        assert.deepStrictEqual(indexedVersions(yield* checked(c, root)), ["v1.0.0"])
      }))
  })

  describe("when the release or the command line is refused", () => {
    for (const refusal of refusals) {
      it.scopedLive(`exits ${refusal.code} on ${refusal.what}, and writes nothing`, () =>
        Effect.gen(function*() {
          const c = cloud()
          const root = fresh(`refused-${refusal.code}`)
          const release = yield* scopedRelease()
          refusal.setup?.(release)
          const args = publishArgs(release, refusal.version ?? "v1.0.0", c.target.repository(root),
            refusal.extra?.(release) ?? [])
          const r = yield* relpub(c, refusal.validation === false
            ? args.filter((a, i) => a !== "--validation-result" && args[i - 1] !== "--validation-result")
            : args)
          assert.strictEqual(r.code, refusal.code, describeResult(r))
          yield* assertNothingWritten(c, root)
        }))
    }

    it.scopedLive("exits 36 when the bucket does not exist, and writes nothing", () =>
      Effect.gen(function*() {
        const c = cloud()
        const root = fresh("no-bucket")
        const r = yield* relpub(c, publishArgs(yield* scopedRelease(), "v1.0.0", c.target.missingBucket(root)))
        assert.strictEqual(r.code, 36, describeResult(r))
        yield* assertNothingWritten(c, root)
      }))
  })
}

const raceTests = ({ cloud, probed }: SuiteContext) => {
  const race = (c: Cloud, release: ReleaseFixture, root: string, versions: ReadonlyArray<string>) =>
    Effect.forEach(versions, (v) =>
      relpub(c, publishArgs(release, v, c.target.repository(root)), { timeoutMs: RACE_TIMEOUT - 10_000 }), {
      concurrency: "unbounded"
    })

  describe(`when ${RACERS} processes publish at once`, () => {
    it.scopedLive(`one version: exactly one exits 0 and ${RACERS - 1} exit 32`, () =>
      Effect.gen(function*() {
        const c = cloud()
        const root = yield* probed("race-one")
        // Half of them spell it without the "v": the same version all the same.
        const versions = Array.from({ length: RACERS }, (_, i) => (i % 2 ? "1.0.0" : "v1.0.0"))
        const results = yield* race(c, yield* scopedRelease(), root, versions)
        const codes = results.map((r) => r.code)
        const detail = results.filter((r) => r.code !== 32).map(describeResult).join("\n")
        assert.strictEqual(codes.filter((x) => x === 0).length, 1, `${codes}\n${detail}`)
        assert.strictEqual(codes.filter((x) => x === 32).length, RACERS - 1, `${codes}\n${detail}`)

        const winner = versions[codes.indexOf(0)]!
        const check = yield* checked(c, root)
        assert.deepStrictEqual(indexedVersions(check), [winner])
        assert.deepStrictEqual(check.chain.map((l) => [l.sequence, l.version]), [[1, winner]])
        assert.deepStrictEqual([...new Set(check.keys.filter((k) => k.startsWith("releases/"))
          .map((k) => k.split("/")[1]))], [winner])
      }), RACE_TIMEOUT)

    it.scopedLive(`${RACERS} versions: all exit 0, and the index and audit chain hold all of them`, () =>
      Effect.gen(function*() {
        const c = cloud()
        const root = yield* probed("race-many")
        const versions = Array.from({ length: RACERS }, (_, i) => `v2.${i}.0`)
        const results = yield* race(c, yield* scopedRelease(), root, versions)
        assert.deepStrictEqual(results.map((r) => r.code), versions.map(() => 0),
          results.filter((r) => r.code !== 0).map(describeResult).join("\n"))

        const check = yield* checked(c, root)
        assert.deepStrictEqual(indexedVersions(check).sort(), [...versions].sort())
        assert.strictEqual(check.index.serial, RACERS)
        assert.deepStrictEqual(check.chain.map((l) => l.sequence), versions.map((_, i) => RACERS - i))
        assert.deepStrictEqual(check.chain.map((l) => l.version).sort(), [...versions].sort())
      }), RACE_TIMEOUT)
  })
}

/**
 * Registers the suite for the server `name`. When no server can be started
 * (not installed) nor is named by RELPUB_TEST_* variables, every test is
 * skipped with the reason.
 */
export const publishSuite = (name: ServerName, options: SuiteOptions): void => {
  describe(`bin/relpub on ${options.title}`, () => {
    const server = serverFor(name)
    const run = randomBytes(4).toString("hex")
    let found: Awaited<ReturnType<typeof server.acquire>>
    let cloud: Cloud | undefined
    let count = 0

    beforeAll(async () => {
      assertBuilt()
      found = await server.acquire()
      if (found === undefined) return
      cloud = { target: targetFor(name, found.info), store: await openStore(name, found.info) }
    }, 180_000)
    afterAll(async () => {
      await cloud?.store.close()
      await found?.cleanup()
    }, 60_000)
    beforeEach((ctx) => {
      if (cloud === undefined) ctx.skip(`no ${name} server: ${server.reason() ?? "not available"}`)
    })

    const fresh = (slug: string) => `cloud-${run}/${++count}-${slug}`
    let probeCache: Buffer | undefined
    // A passing probe cache relpub wrote in an earlier root of this file (the layout test's).
    const earlierCache = (c: Cloud) =>
      Effect.promise(async () => {
        for (const { key } of await c.store.list(`cloud-${run}/`)) {
          if (!key.endsWith(`/${GUARANTEES}`)) continue
          const bytes = await c.store.read(key)
          const passed = (p: { ok: boolean }) => p.ok
          if (bytes !== undefined && JSON.parse(bytes.toString("utf8")).probes.every(passed)) return bytes
        }
        return undefined
      })
    const probed = (slug: string) =>
      Effect.gen(function*() {
        const c = cloud!
        probeCache ??= yield* earlierCache(c)
        if (probeCache === undefined) {
          const root = fresh("probe-cache")
          yield* publishOk(c, yield* scopedRelease(), "v0.0.1", c.target.repository(root))
          probeCache = yield* Effect.promise(() => c.store.read(`${root}/${GUARANTEES}`))
          assert.isDefined(probeCache, `relpub wrote no ${GUARANTEES}`)
        }
        const root = fresh(slug)
        yield* Effect.promise(() => c.store.put(`${root}/${GUARANTEES}`, probeCache!))
        return root
      })
    const context: SuiteContext = { cloud: () => cloud!, fresh, probed }
    exitCodeTests(context)
    raceTests(context)
    faultTests(context, options.faults === "all")
    if (options.kill === true) killTests(context)
    secretTests(context, options.backendIndependent === true)
  })
}
