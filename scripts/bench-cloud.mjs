#!/usr/bin/env node
// Cloud leg of the bench: publish data set b (100 files / 200 MiB, as in
// scripts/bench.mjs) to a local SeaweedFS S3 server with `relpub publish`, and
// in the same run upload the same files to the same server with `rclone copy`
// (default --transfers 4, and --transfers 2) and `aws s3 cp --recursive`.
// Every run goes to a fresh prefix (relpub: a fresh version in one repository).
// 1 warm-up round + BENCH_RUNS (5) counted rounds; the tools are interleaved
// within each round, in an order that rotates from round to round, so that
// load changes on the machine hit all of them alike. Reports median (min–max)
// wall ms, the peak RSS from GNU time (%M), the tool's CPU time (user+sys) and
// the SeaweedFS server's CPU time during the run (its /proc stat), and relpub's
// own step timings (from --verbose). Prints Markdown; does not write docs.
//
// The client and the server share the machine's cores, so a tool's CPU time
// slows the server down too: the CPU columns explain the wall times.
//
// BENCH_RT=1 runs every timed command, and the server, at real-time priority
// (`chrt -f 10`): other work on a shared machine can then not take their
// CPUs. That approximates an idle machine; the default mode is the one to quote.
//
// Run: node scripts/build.mjs && node scripts/bench-cloud.mjs
// Needs: the servers (bash scripts/servers/install.sh), rclone, aws (the
// Debian awscli package at /usr/bin/aws is preferred; AWS_CLI=path overrides),
// BENCH_BASELINE=path/to/other/bin/relpub adds a second relpub build (A/B),
// /usr/bin/time (and chrt for BENCH_RT). Plain Node ESM, built-ins only.
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { startServers, stopServers } from "./servers/servers.mjs"
import { writeRandomFile } from "./bench-data.mjs"

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const RELPUB = path.join(ROOT, "bin", "relpub")
const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const RT = process.env.BENCH_RT === "1"
const WARMUPS = 1
const TIME = "/usr/bin/time"
const KiB = 1024
const MiB = 1024 * KiB

const log = (...a) => process.stderr.write(a.join(" ") + "\n")
const which = (name) => spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).stdout.trim() || undefined
const AWS = process.env.AWS_CLI ?? (fs.existsSync("/usr/bin/aws") ? "/usr/bin/aws" : which("aws"))
const RCLONE = which("rclone")

// ---------------------------------------------------------------- data set b (copied from scripts/bench.mjs)

const GROUPS = [
  { name: "large", sizes: Array(4).fill(30 * MiB) },
  { name: "medium", sizes: Array(6).fill(8 * MiB) },
  { name: "mid", sizes: Array(20).fill(1 * MiB) },
  { name: "small", sizes: Array(70).fill(175 * KiB) }
]

const makeRelease = (dir) => {
  const release = path.join(dir, "release")
  const files = []
  for (const group of GROUPS) {
    const sub = group.name === "small" ? "assets" : "dist"
    fs.mkdirSync(path.join(release, sub), { recursive: true })
    group.sizes.forEach((size, i) => {
      const rel = `${sub}/${group.name}-${String(i).padStart(2, "0")}.bin`
      files.push({ path: rel, sha256: writeRandomFile(path.join(release, rel), size), size })
    })
  }
  fs.writeFileSync(path.join(release, "manifest.json"), JSON.stringify({ schema: "relpub/manifest/v1", files }, null, 2) + "\n")
  const validation = path.join(dir, "validation.json")
  fs.writeFileSync(validation, JSON.stringify({ passed: true }) + "\n")
  return { release, validation, count: files.length, bytes: files.reduce((n, f) => n + f.size, 0) }
}

// ---------------------------------------------------------------- measuring

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

const CLK_TCK = 100
/** CPU time (user+sys, ms) of process `pid` and all its threads so far. */
const cpuOf = (pid) => {
  if (pid === undefined) return 0
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK
  } catch {
    return 0
  }
}

/**
 * Run under GNU time; wall ms from just before spawn to exit, peak RSS in
 * bytes, CPU ms (user+sys), the server's CPU ms meanwhile, and the output.
 */
const runMeasured = (cmd, args, env, serverPid) =>
  new Promise((resolve, reject) => {
    const timeFile = path.join(os.tmpdir(), `relpub-bench-cloud-time-${process.pid}`)
    const timed = [TIME, "-f", "%M %U %S", "-o", timeFile, cmd, ...args]
    const argv = RT ? ["chrt", "-f", "10", ...timed] : timed
    const server0 = cpuOf(serverPid)
    const t0 = process.hrtime.bigint()
    const child = spawn(argv[0], argv.slice(1), { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    child.stdout.on("data", (d) => (out += d))
    child.stderr.on("data", (d) => (out += d))
    child.on("error", reject)
    child.on("close", (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6
      const serverCpu = cpuOf(serverPid) - server0
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(" ")} exited ${code}:\n${out.slice(-4000)}`))
      const [kib, user, sys] = fs.readFileSync(timeFile, "utf8").trim().split("\n").pop().split(" ").map(Number)
      fs.rmSync(timeFile, { force: true })
      resolve({ ms, rss: kib * KiB, cpu: (user + sys) * 1000, serverCpu, out })
    })
  })

/** relpub --verbose step timings: `<step> done in <n> ms`. */
const stepsOf = (out) =>
  Object.fromEntries([...out.matchAll(/ (\S+) done in (\d+) ms/g)].map((m) => [m[1], Number(m[2])]))

const uptime = () => fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")

// ---------------------------------------------------------------- main

const main = async () => {
  if (!RCLONE) throw new Error("rclone not found (apt-get install -y rclone)")
  if (!AWS) throw new Error("aws not found (apt-get install -y awscli)")
  if (!fs.existsSync(TIME)) throw new Error(`${TIME} not found (apt-get install -y time)`)
  if (!fs.existsSync(path.join(ROOT, "dist", "launch.cjs"))) throw new Error("dist/ missing: run node scripts/build.mjs first")

  const versions = {
    node: process.version,
    relpub: JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version,
    rclone: spawnSync(RCLONE, ["version"], { encoding: "utf8" }).stdout.split("\n")[0].trim(),
    aws: `${(spawnSync(AWS, ["--version"], { encoding: "utf8" }).stdout || "").trim()} (${AWS})`,
    weed: (spawnSync(path.join(ROOT, ".venv-servers", "bin", "weed"), ["version"], { encoding: "utf8" }).stdout || "").trim().split("\n")[0]
  }
  const cpu = (fs.readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/) ?? [])[1] ?? "unknown CPU"
  const machine = `${cpu}, ${os.cpus().length} CPUs, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()}`

  const base = fs.mkdtempSync(path.join(os.tmpdir(), "relpub-bench-cloud-"))
  let info
  const loadBefore = uptime()
  try {
    const t0 = Date.now()
    const set = makeRelease(base)
    log(`bench-cloud: wrote ${set.count} files + manifest.json, ${(set.bytes / MiB).toFixed(1)} MiB in ${Date.now() - t0} ms`)

    info = await startServers(["seaweedfs"])
    for (const sig of ["SIGINT", "SIGTERM"]) {
      process.once(sig, () => {
        log(`bench-cloud: ${sig}, stopping seaweedfs`)
        stopServers(info).finally(() => {
          fs.rmSync(base, { recursive: true, force: true })
          process.exit(130)
        })
      })
    }
    const sw = info.servers.seaweedfs
    log(`bench-cloud: seaweedfs at ${sw.endpoint}, bucket ${sw.bucket}`)

    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: sw.accessKeyId,
      AWS_SECRET_ACCESS_KEY: sw.secretAccessKey,
      AWS_DEFAULT_REGION: sw.region ?? "us-east-1",
      AWS_REGION: sw.region ?? "us-east-1",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      AWS_PAGER: "",
      RCLONE_CONFIG_SW_TYPE: "s3",
      RCLONE_CONFIG_SW_PROVIDER: "SeaweedFS",
      RCLONE_CONFIG_SW_ENDPOINT: sw.endpoint,
      RCLONE_CONFIG_SW_ACCESS_KEY_ID: sw.accessKeyId,
      RCLONE_CONFIG_SW_SECRET_ACCESS_KEY: sw.secretAccessKey,
      RCLONE_CONFIG_SW_FORCE_PATH_STYLE: "true"
    }
    // An inherited AWS_CA_BUNDLE makes rclone's AWS SDK fail ("unable to load custom CA
    // bundle"); the endpoint is plain http on 127.0.0.1, so drop it for every tool alike.
    delete env.AWS_CA_BUNDLE
    const src = set.release
    const serverPid = sw.pid
    if (RT) {
      // The server's threads too (new ones inherit it); undone before it stops.
      const r = spawnSync("chrt", ["-f", "-a", "-p", "10", String(serverPid)], { encoding: "utf8" })
      if (r.status !== 0) throw new Error(`chrt of the server failed: ${r.stderr}`)
    }
    const tools = [
      {
        name: "relpub publish",
        cmd: RELPUB,
        // One repository receiving a new version each round, as in use: the warm-up's publish
        // runs the one-off guarantee probes (16 racing writers) and caches their finding.
        args: (n) => ["publish", src, "--version", `v1.0.${n}`, "--repository", `s3://${sw.bucket}/relpub`,
          "--endpoint", sw.endpoint, "--path-style", "--region", sw.region ?? "us-east-1", "--validation-result", set.validation, "--verbose"]
      },
      { name: "rclone copy (--transfers 4, default)", cmd: RCLONE, args: (n) => ["copy", src, `sw:${sw.bucket}/rclone-${n}/`] },
      { name: "rclone copy --transfers 2", cmd: RCLONE, args: (n) => ["copy", "--transfers", "2", src, `sw:${sw.bucket}/rclone2-${n}/`] },
      { name: "aws s3 cp --recursive", cmd: AWS, args: (n) => ["--endpoint-url", sw.endpoint, "s3", "cp", "--recursive", "--only-show-errors", src, `s3://${sw.bucket}/aws-${n}/`] }
    ]
    // A/B: BENCH_BASELINE=<another checkout's bin/relpub> adds it as a fifth tool, interleaved like the others.
    if (process.env.BENCH_BASELINE) {
      const relpub = tools[0]
      tools.push({ ...relpub, name: "relpub publish (baseline)", cmd: process.env.BENCH_BASELINE,
        args: (n) => relpub.args(n).map((a) => (a === `s3://${sw.bucket}/relpub` ? `s3://${sw.bucket}/baseline` : a)) })
    }
    for (const t of tools) t.samples = []

    const loads = []
    for (let round = 0; round < WARMUPS + RUNS; round++) {
      loads.push(Number(uptime().split(" ")[0]))
      // Rotate the order, so that no tool always runs first (or right after relpub).
      const order = tools.map((_, i) => tools[(i + round) % tools.length])
      for (const t of order) {
        const r = await runMeasured(t.cmd, t.args(round), env, serverPid)
        if (t.cmd !== RCLONE && t.cmd !== AWS) r.steps = stepsOf(r.out)
        if (round >= WARMUPS) t.samples.push(r)
        log(`bench-cloud: ${round < WARMUPS ? "warm-up" : `run ${round}`} ${t.name}: ${Math.round(r.ms)} ms, ` +
          `${(r.rss / MiB).toFixed(1)} MiB, CPU ${Math.round(r.cpu)} ms, server CPU ${Math.round(r.serverCpu)} ms`)
      }
      if (round === 0) {
        // Check that every tool uploaded the same bytes (objects and total size per prefix).
        for (const p of ["relpub/releases/v1.0.0", "rclone-0", "rclone2-0", "aws-0"]) {
          const ls = spawnSync(AWS, ["--endpoint-url", sw.endpoint, "s3", "ls", "--recursive", `s3://${sw.bucket}/${p}/`], { env, encoding: "utf8" })
          const rows = ls.stdout.trim().split("\n").filter(Boolean).map((l) => l.trim().split(/\s+/))
          const bytes = rows.reduce((n, r) => n + Number(r[2]), 0)
          log(`bench-cloud: s3://${sw.bucket}/${p}/: ${rows.length} objects, ${bytes} bytes`)
        }
      }
    }

    const loadAfter = uptime()
    const rclone = tools[1]
    const relpubMed = median(tools[0].samples.map((s) => s.ms))
    const range = (xs, f) => `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`
    const ms = (x) => String(Math.round(x))
    const mib = (x) => (x / MiB).toFixed(1)
    const rows = tools.map((t) => {
      const of = (k) => t.samples.map((s) => s[k])
      const ratio = relpubMed / median(of("ms"))
      return `| ${t.name} | ${range(of("ms"), ms)} | ${range(of("rss"), mib)} | ${range(of("cpu"), ms)} | ` +
        `${range(of("serverCpu"), ms)} | ${t === tools[0] ? "—" : ratio.toFixed(2)} |`
    })
    // relpub's phases: before the first step (start-up), the steps, and the rest.
    const phase = (s) => {
      const steps = s.steps ?? {}
      const inSteps = Object.values(steps).reduce((a, b) => a + b, 0)
      return { inspect: steps.inspect ?? 0, stage: steps.stage ?? 0, other: inSteps - (steps.inspect ?? 0) - (steps.stage ?? 0), outside: s.ms - inSteps }
    }
    const phaseRow = (t) => {
      const phases = t.samples.map(phase)
      const ph = (k) => range(phases.map((p) => p[k]), ms)
      return `| ${t.name} | ${ph("outside")} | ${ph("inspect")} | ${ph("stage")} | ${ph("other")} |`
    }
    const ratio = relpubMed / median(rclone.samples.map((s) => s.ms))
    const perRun = tools[0].samples.map((s, i) => (s.ms / rclone.samples[i].ms).toFixed(2))
    const out = [
      `Machine: ${machine}`,
      `Versions: relpub ${versions.relpub} (Node ${versions.node}); ${versions.rclone}; ${versions.aws}; SeaweedFS ${versions.weed}`,
      `Mode: ${RT ? "real-time priority (BENCH_RT=1: every timed command and the server under chrt -f 10)" : "default (normal priority)"}`,
      `Load average (1/5/15 min): before ${loadBefore}, after ${loadAfter}; 1-min load at the start of each round: ${loads.map((l) => l.toFixed(2)).join(", ")}`,
      `Data: ${set.count} files + manifest.json, ${(set.bytes / MiB).toFixed(0)} MiB; ${WARMUPS} warm-up + ${RUNS} counted rounds, tools interleaved (order rotating), fresh prefix per run`,
      "",
      "| Tool | wall ms, median (min–max) | peak RSS MiB | CPU ms (user+sys) | SeaweedFS CPU ms meanwhile | relpub / this |",
      "|---|---|---|---|---|---|",
      ...rows,
      "",
      "relpub's wall time split (ms, median (min–max)), from its --verbose step timings:",
      "",
      "| build | start-up, exit and the writes between steps | inspect (read + hash) | stage (upload) | other steps (claim, verify, promote, index) |",
      "|---|---|---|---|---|",
      ...tools.filter((t) => t.samples[0]?.steps !== undefined).map(phaseRow),
      "",
      `relpub / rclone (default) = ${ratio.toFixed(2)} (per round: ${perRun.join(", ")}) → 1.0x target ${ratio <= 1.0 ? "met" : "NOT met"}`
    ]
    process.stdout.write(out.join("\n") + "\n")
  } finally {
    if (info && RT) spawnSync("chrt", ["-o", "-a", "-p", "0", String(info.servers.seaweedfs.pid)])
    if (info) {
      await stopServers(info).catch((e) => log(`bench-cloud: stopping servers failed: ${e.message}`))
      log("bench-cloud: seaweedfs stopped")
    }
    fs.rmSync(base, { recursive: true, force: true })
  }
}

main().catch((e) => {
  log(`bench-cloud: ${e.stack ?? e}`)
  process.exitCode = 1
})
