// End to end: bin/relpub publish against a local repository, one test per exit
// code it can produce (DESIGN.md, "Policy" and "Inputs that must be refused").
// Every failure must leave the repository byte-for-byte as it was.
import { assert, describe, layer } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { Context, Effect, Layer } from "effect"
import {
  checkRepository,
  type CliResult,
  describeResult,
  listFiles,
  runCli,
  scopedRelease,
  scopedTempDir,
  sha256
} from "../support/cli.ts"
import { type FixtureFile, type ReleaseFixture, snapshotTree } from "../support/release.ts"

/** `publish` of `release` into `repo` with a passing validation result. */
const publishArgs = (release: ReleaseFixture, repo: string, version = "v1.0.0") =>
  ["publish", release.dir, "--version", version, "--repository", repo,
    "--validation-result", release.validationFile]

// A repository that already holds v0.9.0, built once; each test works on a copy.
class Seed extends Context.Tag("test/cli/exitCodes/Seed")<Seed, { readonly repo: string }>() {}

const SeedLive = Layer.scoped(
  Seed,
  Effect.gen(function*() {
    const dir = yield* scopedTempDir("relpub-seed-")
    const release = yield* scopedRelease()
    const repo = path.join(dir, "repo")
    const r = yield* runCli(publishArgs(release, repo, "v0.9.0"))
    if (r.code !== 0) throw new Error(`seeding the repository failed: ${describeResult(r)}`)
    return { repo }
  })
)

const seededCopy = Effect.gen(function*() {
  const { repo } = yield* Seed
  const dir = yield* scopedTempDir("relpub-repo-")
  const copy = path.join(dir, "repo")
  fs.cpSync(repo, copy, { recursive: true })
  return copy
})

const readJson = (file: string): any => JSON.parse(fs.readFileSync(file, "utf8"))

/** The files of the repository that are published: everything outside `.relpub/`. */
const publishedPart = (repo: string) =>
  Object.fromEntries(Object.entries(snapshotTree(repo)).filter(([k]) => !k.startsWith(".relpub")))

interface Refusal {
  /** Expected exit code. */
  readonly code: number
  /** Substrings that stderr and the reports must contain (the offending file, flag or value). */
  readonly names: (release: ReleaseFixture) => ReadonlyArray<string>
  readonly files?: ReadonlyArray<FixtureFile>
  readonly manifestVersion?: string
  readonly manifest?: boolean
  /** Change the release directory after it was written. */
  readonly setup?: (release: ReleaseFixture) => void
  /** Extra arguments (after the usual ones). */
  readonly args?: (release: ReleaseFixture) => ReadonlyArray<string>
  readonly version?: string
  /** false: no --validation-result; otherwise the validation result to write and pass. */
  readonly validation?: false | object
  /**
   * false when the command fails before a publish starts (parsing, policy file, key), where
   * no --json-report / --text-report is written; their content is checked otherwise.
   */
  readonly reports?: boolean
}

/** Publish a release that must be refused into a copy of the seeded repository. */
const expectRefusal = (c: Refusal) =>
  Effect.gen(function*() {
    const release = yield* scopedRelease({
      ...(c.files === undefined ? {} : { files: c.files }),
      ...(c.manifestVersion === undefined ? {} : { version: c.manifestVersion }),
      ...(c.manifest === undefined ? {} : { manifest: c.manifest })
    })
    c.setup?.(release)
    const repo = yield* seededCopy
    const before = snapshotTree(repo)
    const jsonReport = path.join(release.root, "report.json")
    const textReport = path.join(release.root, "report.txt")
    const validation = c.validation === false ? []
      : c.validation === undefined ? ["--validation-result", release.validationFile]
      : ["--validation-result", scratch(release, "v.json", c.validation)]
    const r = yield* runCli([
      "publish", release.dir, "--version", c.version ?? "v1.0.0", "--repository", repo,
      ...validation, "--json-report", jsonReport, "--text-report", textReport,
      ...(c.args?.(release) ?? [])
    ], { timeoutMs: 30_000 })
    assert.strictEqual(r.code, c.code, describeResult(r))
    const names = c.names(release)
    for (const name of names) assert.include(r.stderr, name, describeResult(r))
    if (c.reports !== false) {
      const report = readJson(jsonReport)
      assert.strictEqual(report.exit_code, c.code)
      assert.strictEqual(report.status, "failed")
      assert.deepStrictEqual(report.artifacts_published, [])
      const said = JSON.stringify([report.errors, report.violations])
      for (const name of names) assert.include(said, JSON.stringify(name).slice(1, -1))
      const text = fs.readFileSync(textReport, "utf8")
      assert.include(text, `exit code           ${c.code} `)
      assert.include(text, "status              failed")
    }
    assert.deepStrictEqual(snapshotTree(repo), before, "the repository changed")
    return r
  })

const write = (release: ReleaseFixture, rel: string, content: string | Uint8Array) =>
  fs.writeFileSync(path.join(release.dir, rel), content)

/** Write a file beside the release directory: text as given, anything else as JSON. */
const scratch = (release: ReleaseFixture, name: string, content: unknown) => {
  const file = path.join(release.root, name)
  fs.writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content))
  return file
}

const base = (path: string): FixtureFile => ({ path, content: "payload\n" })

const forbidGz = (r: ReleaseFixture) =>
  ["--policy-file", scratch(r, "policy.json", { forbidden_extensions: [".gz"] })]

layer(SeedLive, { excludeTestServices: true, timeout: "60 seconds" })(
  "relpub publish (bin/relpub)",
  (it) => {
    describe("when the release passes every check", () => {
      it.scoped("exits 0 and publishes every file with its record, index and audit entry", () =>
        Effect.gen(function*() {
          const release = yield* scopedRelease()
          const repo = yield* seededCopy
          const r = yield* runCli([...publishArgs(release, repo),
            "--verification-result", release.verificationFile])
          assert.strictEqual(r.code, 0, describeResult(r))
          assert.include(r.stdout, "status              success")
          const check = checkRepository(repo)
          assert.deepStrictEqual(check.problems, [])
          assert.deepStrictEqual(check.index.releases.map((e: any) => e.version), [
            "v1.0.0",
            "v0.9.0"
          ])
          const record = readJson(path.join(repo, "releases/v1.0.0/release.json"))
          const expected = listFiles(release.dir).map((f) => {
            const bytes = fs.readFileSync(path.join(release.dir, f))
            return [f, sha256(bytes), bytes.length]
          })
          assert.deepStrictEqual(record.files.map((f: any) => [f.path, f.sha256, f.size]), expected)
          assert.strictEqual(
            expected.length,
            release.files.length + 1,
            "the files and manifest.json"
          )
          assert.deepStrictEqual(check.chain.map((l) => [l.sequence, l.version]), [[2, "v1.0.0"], [
            1, "v0.9.0"]])
        }))

      it.scoped("exits 0 with --dry-run and writes nothing", () =>
        Effect.gen(function*() {
          const release = yield* scopedRelease()
          const repo = yield* seededCopy
          const before = snapshotTree(repo)
          const fresh = path.join(release.root, "fresh-repo")
          for (const target of [repo, fresh]) {
            const r = yield* runCli([...publishArgs(release, target), "--dry-run", "--json"])
            assert.strictEqual(r.code, 0, describeResult(r))
            const report = JSON.parse(r.stdout)
            assert.strictEqual(report.status, "dry-run")
            assert.strictEqual(report.exit_code, 0)
            assert.deepStrictEqual(report.artifacts_published, [])
          }
          assert.deepStrictEqual(snapshotTree(repo), before)
          assert.isFalse(fs.existsSync(fresh), "a dry run created the repository")
        }))

      it.scoped("exits 0 with the original spec's flags (--release-dir, --repository-path)", () =>
        Effect.gen(function*() {
          const release = yield* scopedRelease()
          const repo = yield* seededCopy
          const json = path.join(release.root, "publication.json")
          const text = path.join(release.root, "publication.txt")
          const r = yield* runCli(["publish", "--version", "v1.0.0", "--release-dir", release.dir,
            "--repository-type", "local", "--repository-path", repo, "--policy", "strict",
            "--verification-result", release.verificationFile, "--validation-result",
            release.validationFile, "--json-report", json, "--text-report", text, "--verbose"])
          assert.strictEqual(r.code, 0, describeResult(r))
          assert.include(r.stderr, "DEBUG", "--verbose logs the steps on stderr")
          assert.strictEqual(readJson(json).status, "success")
          assert.strictEqual(readJson(json).verification_passed, true)
          assert.include(fs.readFileSync(text, "utf8"), "status              success")
          assert.deepStrictEqual(checkRepository(repo).problems, [])
        }))

      const lenientWithoutValidation = Effect.gen(function*() {
        const release = yield* scopedRelease()
        const repo = yield* seededCopy
        const r = yield* runCli(["publish", release.dir, "--version", "v1.0.0",
          "--repository", repo, "--publication-policy", "lenient", "--json"])
        assert.strictEqual(r.code, 0, describeResult(r))
        assert.strictEqual(checkRepository(repo).index.releases[0].version, "v1.0.0")
        return JSON.parse(r.stdout)
      })

      it.scoped("exits 0 under --publication-policy lenient without a validation result", () =>
        Effect.map(lenientWithoutValidation, (report) => {
          assert.strictEqual(report.exit_code, 0)
          assert.strictEqual(report.policy_mode, "lenient")
        }))

      // The lenient policy still runs the validation check; a missing result is a warning.
      it.scoped("reports validation_passed: false and warns when lenient has no result", () =>
        Effect.map(lenientWithoutValidation, (report) => {
          assert.strictEqual(report.validation_passed, false)
          assert.isTrue(report.warnings.some((w: string) => w.includes("--validation-result")))
        }))
    })

    describe("when the command line is wrong", () => {
      it.scoped("exits 2 on an unknown flag", () =>
        expectRefusal({
          code: 2,
          names: () => ["--bogus"],
          args: () => ["--bogus"],
          reports: false
        }))

      it.scoped("exits 2 without --version", () =>
        Effect.gen(function*() {
          const release = yield* scopedRelease()
          const repo = yield* seededCopy
          const before = snapshotTree(repo)
          const r = yield* runCli(["publish", release.dir, "--repository", repo,
            "--validation-result", release.validationFile])
          assert.strictEqual(r.code, 2, describeResult(r))
          assert.include(r.stderr, "--release-version")
          assert.deepStrictEqual(snapshotTree(repo), before)
        }))

      it.scoped("exits 2 on a version that is not a semantic version", () =>
        expectRefusal({ code: 2, version: "1.0", names: () => [JSON.stringify("1.0")] }))

      it.scoped("exits 2 on --sign-audit-log without --signing-key", () =>
        expectRefusal({
          code: 2,
          names: () => ["--sign-audit-log", "--signing-key"],
          args: () => ["--sign-audit-log"],
          reports: false
        }))

      it.scoped("exits 2 on a malformed policy file", () =>
        expectRefusal({
          code: 2,
          names: (r) => [path.join(r.root, "policy.json")],
          args: (r) => ["--policy-file", scratch(r, "policy.json", "{ \"max_files\": ")],
          reports: false
        }))

      it.scoped("exits 2 on a policy file with an unknown rule", () =>
        expectRefusal({
          code: 2,
          names: (r) => [path.join(r.root, "policy.json"), "max_filez"],
          args: (r) => ["--policy-file", scratch(r, "policy.json", { max_filez: 1 })],
          reports: false
        }))
    })

    describe("when verification fails (30)", () => {
      it.scoped("exits 30 on a verification result with passed: false", () =>
        expectRefusal({
          code: 30,
          names: (r) => [path.join(r.root, "failed.json")],
          args: (r) => ["--verification-result", scratch(r, "failed.json", { passed: false })]
        }))

      it.scoped("exits 30 when a file's SHA-256 differs from manifest.json", () =>
        expectRefusal({
          code: 30,
          names: () => ["app.tar.gz"],
          setup: (r) => {
            const file = path.join(r.dir, "app.tar.gz")
            const bytes = fs.readFileSync(file)
            bytes[100] = bytes[100]! ^ 0xff
            fs.writeFileSync(file, bytes)
          }
        }))

      it.scoped("exits 30 on a verification file of the wrong shape", () =>
        expectRefusal({
          code: 30,
          names: (r) => [path.join(r.root, "shape.json"), "passed"],
          args: (r) => ["--verification-result", scratch(r, "shape.json", { passed: "yes" })]
        }))

      it.scoped("exits 30 on a verification file that is not JSON", () =>
        expectRefusal({
          code: 30,
          names: (r) => [path.join(r.root, "garbage.json")],
          args: (r) => ["--verification-result", scratch(r, "garbage.json", "passed: true")]
        }))
    })

    describe("when validation fails (31)", () => {
      it.scoped("exits 31 without a validation result under the strict policy", () =>
        expectRefusal({ code: 31, validation: false, names: () => ["--validation-result"] }))

      it.scoped("exits 31 on a validation result with passed: false", () =>
        expectRefusal({
          code: 31,
          names: (r) => [path.join(r.root, "v.json")],
          validation: { passed: false }
        }))

      it.scoped("exits 31 on a validation result of the wrong shape", () =>
        expectRefusal({
          code: 31,
          names: (r) => [path.join(r.root, "v.json"), "wrong shape"],
          validation: [true]
        }))
    })

    describe("when the version exists (32)", () => {
      it.scoped("exits 32 on a second publish of a version and leaves the first untouched", () =>
        expectRefusal({ code: 32, version: "v0.9.0", names: () => ["v0.9.0"] }))

      it.scoped("exits 32 when published under the other spelling (0.9.0 vs v0.9.0)", () =>
        expectRefusal({ code: 32, version: "0.9.0", names: () => ["0.9.0", "already published"] }))
    })

    describe("when the release and its manifest disagree (33)", () => {
      it.scoped("exits 33 without a manifest under the strict policy", () =>
        expectRefusal({ code: 33, manifest: false, names: () => ["manifest.json"] }))

      it.scoped("exits 33 on a file the manifest does not list", () =>
        expectRefusal({
          code: 33,
          names: () => ["extra.bin"],
          setup: (r) => write(r, "extra.bin", "surprise")
        }))

      it.scoped("exits 33 on a listed file that is missing", () =>
        expectRefusal({
          code: 33,
          names: () => ["docs/README.md"],
          setup: (r) => fs.rmSync(path.join(r.dir, "docs/README.md"))
        }))

      it.scoped("exits 33 on a symbolic link in the release", () =>
        expectRefusal({
          code: 33,
          names: () => ["passwd.txt", "symbolic link"],
          setup: (r) => fs.symlinkSync("/etc/passwd", path.join(r.dir, "passwd.txt"))
        }))

      it.scoped("exits 33 on a FIFO in the release (without blocking on it)", () =>
        expectRefusal({
          code: 33,
          names: () => ["pipe", "FIFO"],
          setup: (r) => execFileSync("mkfifo", [path.join(r.dir, "pipe")])
        }))

      const hostile = [
        ["a backslash", "a\\b.txt", "backslash"],
        ["a control character", "bell\u0007.txt", "control character"],
        ["a newline", "two\nlines.txt", "control character"]
      ] as const
      for (const [what, name, reason] of hostile) {
        it.scoped(`exits 33 on a file named with ${what}`, () =>
          expectRefusal({
            code: 33,
            files: [base("app.bin"), base(name)],
            names: () => [JSON.stringify(name), reason]
          }))
      }

      it.scoped("exits 33 on names colliding after NFC (é precomposed and decomposed)", () =>
        expectRefusal({
          code: 33,
          files: [base("caf\u00e9.txt"), base("cafe\u0301.txt")],
          names: () => ["caf\u00e9.txt", "cafe\u0301.txt", "collide"]
        }))

      it.scoped("exits 33 on names that collide after case folding", () =>
        expectRefusal({
          code: 33,
          files: [base("README.md"), base("readme.md")],
          names: () => ["README.md", "readme.md", "collide"]
        }))

      it.scoped("exits 33 when manifest.json is for another version", () =>
        expectRefusal({
          code: 33,
          manifestVersion: "v2.0.0",
          names: () => ["manifest.json", "v2.0.0"]
        }))

      it.scoped("exits 33 on malformed manifest JSON", () =>
        expectRefusal({
          code: 33,
          names: () => ["manifest.json", "not valid JSON"],
          setup: (r) => write(r, "manifest.json", "{\"files\": [")
        }))

      it.scoped("exits 33 on a manifest over the size limit", () =>
        expectRefusal({
          code: 33,
          names: () => ["manifest.json", "limit"],
          setup: (r) => {
            const text = fs.readFileSync(path.join(r.dir, "manifest.json"), "utf8")
            write(r, "manifest.json", text + " ".repeat(16 * 1024 * 1024))
          }
        }))
    })

    describe("when the policy asks for more (34, 35, 38)", () => {
      it.scoped("exits 34 with --require-signatures and no .sig file", () =>
        expectRefusal({ code: 34, names: () => [".sig"], args: () => ["--require-signatures"] }))

      it.scoped("exits 35 with --require-encryption and no .enc file", () =>
        expectRefusal({ code: 35, names: () => [".enc"], args: () => ["--require-encryption"] }))

      it.scoped("exits 38 on a policy file with max_files: 1", () =>
        expectRefusal({
          code: 38,
          names: () => ["policy allows 1"],
          args: (r) => ["--policy-file", scratch(r, "policy.json", { max_files: 1 })]
        }))

      it.scoped("exits 38 on a policy file forbidding an extension the release has", () =>
        expectRefusal({
          code: 38,
          names: () => ["app.tar.gz", ".gz"],
          args: forbidGz
        }))

      it.scoped("exits with the first violation's code in check order (31 before 33, 38)", () =>
        Effect.gen(function*() {
          const r = yield* expectRefusal({
            code: 31,
            validation: false,
            names: () => ["--validation-result", "extra.bin", "app.tar.gz"],
            setup: (rel) => write(rel, "extra.bin", "surprise"),
            args: forbidGz
          })
          assert.include(r.stdout, "exit code           31")
        }))
    })

    describe("when the repository fails (36)", () => {
      it.scoped("exits 36 when the repository path is under a regular file (ENOTDIR)", () =>
        Effect.gen(function*() {
          const release = yield* scopedRelease()
          const blocker = path.join(release.root, "blocker")
          fs.writeFileSync(blocker, "not a directory")
          const repo = path.join(blocker, "repo")
          const r = yield* runCli([...publishArgs(release, repo), "--json"])
          assert.strictEqual(r.code, 36, describeResult(r))
          const report = JSON.parse(r.stdout)
          assert.strictEqual(report.exit_code, 36)
          assert.include(report.errors.join("\n"), blocker)
          assert.strictEqual(fs.readFileSync(blocker, "utf8"), "not a directory")
        }))

      it.scoped("exits 36 when the repository path is a regular file, leaving it alone", () =>
        Effect.gen(function*() {
          const release = yield* scopedRelease()
          const file = path.join(release.root, "repo-file")
          fs.writeFileSync(file, "precious")
          const r = yield* runCli(publishArgs(release, file))
          assert.strictEqual(r.code, 36, describeResult(r))
          assert.include(r.stderr, file)
          assert.strictEqual(fs.readFileSync(file, "utf8"), "precious")
        }))
    })

    describe("when staging or promotion fails (37)", () => {
      const stagingIsAFile = (repo: string) => {
        fs.rmSync(path.join(repo, ".relpub/staging"), { recursive: true, force: true })
        fs.writeFileSync(path.join(repo, ".relpub/staging"), "in the way")
      }

      it.scoped("exits 37 when .relpub/staging is a file; the published part is unchanged", () =>
        Effect.gen(function*() {
          const release = yield* scopedRelease()
          const repo = yield* seededCopy
          stagingIsAFile(repo)
          const before = publishedPart(repo)
          const r = yield* runCli([...publishArgs(release, repo), "--json"])
          assert.strictEqual(r.code, 37, describeResult(r))
          const report = JSON.parse(r.stdout)
          assert.strictEqual(report.exit_code, 37)
          assert.include(report.errors.join("\n"), ".relpub/staging")
          assert.deepStrictEqual(publishedPart(repo), before)
          assert.isFalse(fs.existsSync(path.join(repo, "releases/v1.0.0")))
        }))

      // Regression: removing staging under a file (ENOTDIR) once failed and left the claim.
      it.scoped("leaves no claim behind after that rollback", () =>
        Effect.gen(function*() {
          const release = yield* scopedRelease()
          const repo = yield* seededCopy
          stagingIsAFile(repo)
          const r = yield* runCli(publishArgs(release, repo))
          assert.strictEqual(r.code, 37, describeResult(r))
          assert.deepStrictEqual(listFiles(path.join(repo, ".relpub/claims")), [])
        }))

      // DESIGN.md invariant 5: the next publish removes a crashed attempt's leftovers.
      it.scoped("clears leftovers in releases/<v>/ that have no record, then publishes the release", () =>
        Effect.gen(function*() {
          const release = yield* scopedRelease()
          const repo = yield* seededCopy
          fs.mkdirSync(path.join(repo, "releases/v1.0.0"))
          fs.writeFileSync(path.join(repo, "releases/v1.0.0/app.tar.gz"), "half of an old attempt")
          fs.writeFileSync(path.join(repo, "releases/v1.0.0/stray.bin"), "not in this release")
          const r = yield* runCli(publishArgs(release, repo))
          assert.strictEqual(r.code, 0, describeResult(r))
          assert.include(r.stderr, "removing 2 leftover objects under releases/v1.0.0/")
          assert.isFalse(fs.existsSync(path.join(repo, "releases/v1.0.0/stray.bin")))
          assert.notStrictEqual(
            fs.readFileSync(path.join(repo, "releases/v1.0.0/app.tar.gz"), "utf8"),
            "half of an old attempt"
          )
          assert.deepStrictEqual(checkRepository(repo).problems, [])
        }))
    })

    describe("when the repository does not exist yet", () => {
      const failures = [
        [2, "a usage error", ["--version", "not-a-version"]],
        [31, "a policy failure", ["--version", "v1.0.0"]],
        [34, "a policy failure", ["--version", "v1.0.0", "--require-signatures"]]
      ] as const
      for (const [code, what, extra] of failures) {
        it.scoped(`does not create it on ${what} (${code})`, () =>
          Effect.gen(function*() {
            const release = yield* scopedRelease()
            const repo = path.join(release.root, "fresh")
            const validation = code === 31 ? [] : ["--validation-result", release.validationFile]
            const r = yield* runCli(["publish", release.dir, "--repository", repo, ...validation,
              ...extra])
            assert.strictEqual(r.code, code, describeResult(r))
            assert.isFalse(fs.existsSync(repo), "the repository was created")
          }))
      }
    })

    describe("with --json", () => {
      it.scoped("prints one parsable report whose exit_code is the exit code", () =>
        Effect.gen(function*() {
          const release = yield* scopedRelease()
          const repo = yield* seededCopy
          const run = (extra: ReadonlyArray<string>) =>
            runCli(["publish", release.dir, "--repository", repo, "--validation-result",
              release.validationFile, "--json", ...extra])
          const results: Array<CliResult> = [
            yield* run(["--version", "v1.0.0"]),
            yield* run(["--version", "v1.0.0"]),
            yield* run(["--version", "v1.1.0", "--require-encryption"])
          ]
          assert.deepStrictEqual(results.map((r) => r.code), [0, 32, 35])
          for (const r of results) {
            const report = JSON.parse(r.stdout)
            assert.strictEqual(report.exit_code, r.code)
            assert.strictEqual(report.version, r === results[2] ? "v1.1.0" : "v1.0.0")
          }
          assert.strictEqual(JSON.parse(results[0]!.stdout).status, "success")
          assert.match(JSON.parse(results[0]!.stdout).release_sha256, /^[0-9a-f]{64}$/)
        }))
    })
  }
)
