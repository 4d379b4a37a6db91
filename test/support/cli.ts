// Run the built CLI (bin/relpub -> dist/launch.cjs) and other programs as child
// processes, and check a local repository against the invariants of DESIGN.md.
import { type ChildProcess, spawn } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, type Scope } from "effect"
import { makeRelease, type ReleaseFixture, tempDir } from "./release.ts"

export const ROOT = path.resolve(fileURLToPath(new URL("../..", import.meta.url)))
export const BIN = path.join(ROOT, "bin", "relpub")
export const BUNDLE = path.join(ROOT, "dist", "launch.cjs")
export const DENO = path.join(ROOT, "node_modules", ".bin", "deno")

/** Throws a clear error when the CLI bundle has not been built. */
export const assertBuilt = (): void => {
  if (!fs.existsSync(BUNDLE)) {
    throw new Error(
      `${BUNDLE} is missing: run 'node scripts/build.mjs' (or make build) before the CLI tests`
    )
  }
}

export interface RunOptions {
  readonly cwd?: string
  /** Added to (and overriding) the test process's environment. */
  readonly env?: Readonly<Record<string, string>>
  /** Kill the process (SIGKILL) after this long; default 60 s. */
  readonly timeoutMs?: number
}

export interface CliResult {
  /** The process id it ran as (-1 if it could not be started). */
  readonly pid: number
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly timedOut: boolean
  readonly durationMs: number
}

/** A process started in the background. */
export interface CliProcess {
  readonly pid: number
  readonly child: ChildProcess
  /** Ends when the process exits (or is killed on timeout). */
  readonly result: Effect.Effect<CliResult>
  readonly kill: (signal: NodeJS.Signals) => Effect.Effect<void>
}

const start = (command: string, args: ReadonlyArray<string>, options: RunOptions) => {
  const started = Date.now()
  const child = spawn(command, [...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  const out: Array<Buffer> = []
  const err: Array<Buffer> = []
  child.stdout!.on("data", (b: Buffer) => out.push(b))
  child.stderr!.on("data", (b: Buffer) => err.push(b))
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    child.kill("SIGKILL")
  }, options.timeoutMs ?? 60_000)
  const done = new Promise<CliResult>((resolve) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer)
      resolve({
        pid: child.pid ?? -1,
        code,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        timedOut,
        durationMs: Date.now() - started
      })
    }
    child.on("error", (e) => {
      err.push(Buffer.from(`spawn ${command} failed: ${e.message}\n`))
      finish(null, null)
    })
    child.on("close", finish)
  })
  return { child, done }
}

const kill = (child: ChildProcess, signal: NodeJS.Signals) =>
  Effect.sync(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
  })

/**
 * Run `command` to completion, collecting stdout, stderr and the exit code.
 * Interrupting the effect kills the process.
 */
export const runProcess = (
  command: string,
  args: ReadonlyArray<string>,
  options: RunOptions = {}
): Effect.Effect<CliResult> =>
  Effect.acquireUseRelease(
    Effect.sync(() => start(command, args, options)),
    ({ done }) => Effect.promise(() => done),
    ({ child }) => kill(child, "SIGKILL")
  )

/** Run `bin/relpub args` to completion. */
export const runCli = (
  args: ReadonlyArray<string>,
  options: RunOptions = {}
): Effect.Effect<CliResult> =>
  Effect.suspend(() => {
    assertBuilt()
    return runProcess(BIN, args, options)
  })

/**
 * Start `bin/relpub args` in the background; the process is killed when the
 * scope closes if it is still running.
 */
export const spawnCli = (
  args: ReadonlyArray<string>,
  options: RunOptions = {}
): Effect.Effect<CliProcess, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      assertBuilt()
      const { child, done } = start(BIN, args, options)
      return {
        pid: child.pid ?? -1,
        child,
        result: Effect.promise(() => done),
        kill: (signal: NodeJS.Signals) => kill(child, signal)
      } satisfies CliProcess
    }),
    (p) => kill(p.child, "SIGKILL")
  )

/** The exit status and both output streams of a result, for assertion messages. */
export const describeResult = (r: CliResult): string =>
  `exit ${r.code}${r.signal === null ? "" : ` (${r.signal})`}${r.timedOut ? " TIMED OUT" : ""}\n` +
  `--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`

/** A release fixture removed when the scope closes. */
export const scopedRelease = (options: Parameters<typeof makeRelease>[0] = {}) =>
  Effect.acquireRelease(
    Effect.sync(() => makeRelease(options)),
    (r: ReleaseFixture) => Effect.sync(r.cleanup)
  )

/** A temporary directory removed when the scope closes. */
export const scopedTempDir = (prefix = "relpub-cli-") =>
  Effect.acquireRelease(Effect.sync(() => tempDir(prefix)), (t) => Effect.sync(t.cleanup)).pipe(
    Effect.map((t) => t.dir)
  )

export const sha256 = (bytes: Uint8Array): string =>
  createHash("sha256").update(bytes).digest("hex")

const readJson = (file: string): any => JSON.parse(fs.readFileSync(file, "utf8"))

const filesUnder = (dir: string, rel = ""): Array<string> => {
  if (!fs.existsSync(dir)) return []
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const r = rel === "" ? e.name : `${rel}/${e.name}`
    return e.isDirectory() ? filesUnder(path.join(dir, e.name), r) : [r]
  })
}

/** One audit record of the chain, newest first, as `checkRepository` walked it. */
export interface AuditLink {
  readonly key: string
  readonly sequence: number
  readonly event: string
  readonly version: string
}

export interface RepositoryCheck {
  /** Every broken invariant, in words; empty when the repository is consistent. */
  readonly problems: ReadonlyArray<string>
  readonly index: any
  /** The audit chain from the head back to sequence 1. */
  readonly chain: ReadonlyArray<AuditLink>
}

/**
 * Check a local repository at rest (no publish running) against DESIGN.md:
 * the index lists each version once, every listed version has a release
 * record whose files are present with their SHA-256 and size (and nothing
 * else), every release record is listed, no claim or staging area is left,
 * and the audit chain links each record to the exact bytes of the previous.
 */
export const checkRepository = (repo: string): RepositoryCheck => {
  const problems: Array<string> = []
  const indexFile = path.join(repo, "index.json")
  if (!fs.existsSync(indexFile)) {
    return { problems: ["index.json is missing"], index: undefined, chain: [] }
  }
  const index = readJson(indexFile)
  const versions: Array<string> = index.releases.map((r: any) => r.version)
  if (new Set(versions).size !== versions.length) {
    problems.push(`index lists a version twice: ${versions}`)
  }
  if (index.total_releases !== versions.length) {
    problems.push(`total_releases ${index.total_releases} but ${versions.length} releases listed`)
  }
  for (const entry of index.releases) {
    const dir = path.join(repo, "releases", entry.version)
    const recordFile = path.join(dir, "release.json")
    if (!fs.existsSync(recordFile)) {
      problems.push(`${entry.version}: listed but has no release.json`)
      continue
    }
    const recordBytes = fs.readFileSync(recordFile)
    if (sha256(recordBytes) !== entry.release_record_sha256) {
      problems.push(
        `${entry.version}: release.json does not match the index's release_record_sha256`
      )
    }
    const record = JSON.parse(recordBytes.toString("utf8"))
    const sums = [...record.files]
      .sort((a: any, b: any) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)))
      .map((f: any) => `${f.sha256}  ${f.path}\n`).join("")
    if (sha256(Buffer.from(sums)) !== record.sha256) {
      problems.push(`${entry.version}: record sha256 is wrong`)
    }
    for (const f of record.files) {
      const file = path.join(dir, f.path)
      if (!fs.existsSync(file)) {
        problems.push(`${entry.version}/${f.path}: missing`)
        continue
      }
      const bytes = fs.readFileSync(file)
      if (bytes.length !== f.size || sha256(bytes) !== f.sha256) {
        problems.push(`${entry.version}/${f.path}: size or SHA-256 differs from release.json`)
      }
    }
    const expected = new Set([
      ...record.files.map((f: any) => f.path),
      "release.json",
      "release.json.sig"
    ])
    for (const extra of filesUnder(dir).filter((f) => !expected.has(f))) {
      problems.push(`${entry.version}/${extra}: not in release.json`)
    }
  }
  for (
    const v of fs.existsSync(path.join(repo, "releases"))
      ? fs.readdirSync(path.join(repo, "releases"))
      : []
  ) {
    const hasRecord = fs.existsSync(path.join(repo, "releases", v, "release.json"))
    if (!versions.includes(v)) {
      problems.push(
        hasRecord ? `${v}: has release.json but is not in the index` : `releases/${v}/: leftover`
      )
    }
  }
  for (const leftover of ["claims", "staging"]) {
    const files = filesUnder(path.join(repo, ".relpub", leftover))
    if (files.length > 0) problems.push(`.relpub/${leftover} is not empty: ${files.join(", ")}`)
    const dirs = fs.existsSync(path.join(repo, ".relpub", leftover))
      ? fs.readdirSync(path.join(repo, ".relpub", leftover))
      : []
    if (files.length === 0 && dirs.length > 0) {
      problems.push(`.relpub/${leftover} holds ${dirs.join(", ")}`)
    }
  }
  const chain: Array<AuditLink> = []
  let pointer = index.audit_head
  while (pointer !== null && pointer !== undefined) {
    const file = path.join(repo, pointer.key)
    if (!fs.existsSync(file)) {
      problems.push(`audit record ${pointer.key} is missing`)
      break
    }
    const bytes = fs.readFileSync(file)
    if (sha256(bytes) !== pointer.sha256) {
      problems.push(`${pointer.key}: bytes do not match the pointer to it`)
    }
    const record = JSON.parse(bytes.toString("utf8"))
    if (record.sequence !== pointer.sequence) {
      problems.push(`${pointer.key}: sequence ${record.sequence}`)
    }
    chain.push({
      key: pointer.key,
      sequence: record.sequence,
      event: record.event,
      version: record.version
    })
    if (record.previous === null && record.sequence !== 1) {
      problems.push(`${pointer.key}: chain ends early`)
    }
    if (chain.length > 10_000) break
    pointer = record.previous
  }
  return { problems, index, chain }
}

/** Every file under `dir` (recursively), relative and `/`-separated. */
export const listFiles = (dir: string): ReadonlyArray<string> => filesUnder(dir).sort()
