#!/usr/bin/env node
// `npm run bench`: time `relpub publish` (whole process, start-up included)
// against the physical floor for the same work, `openssl dgst -sha256` of the
// files then `cp -r` and `sync` (a durable copy), on releases of
// 42 files / 50 MiB (set a) and 100 files / 200 MiB (set b), as defined in
// shared/PERFORMANCE.md. Also times `relpub --help` against `node -e 0`.
// Prints a table and writes docs/benchmarks.md (between the bench:begin and
// bench:end markers; text outside them is kept).
//
// Plain Node ESM, built-ins only. Environment knobs (for quick checks):
//   BENCH_RUNS=5       counted runs per row (1 warm-up run comes first)
//   BENCH_SETS=a,b     data sets to run
//   BENCH_NO_DOCS=1    print only, do not touch docs/benchmarks.md
//   BENCH_IDLE=0.85    wait (up to BENCH_IDLE_WAIT_MS, default 1500) before each
//                      timed command until the CPUs were this idle for 250 ms
//   BENCH_RT=1         run every timed command under `chrt -f 10` (real-time
//                      priority; needs root or CAP_SYS_NICE) so that other work
//                      on a shared machine cannot take its CPUs; both sides alike.
//                      Its figures go to their own section of docs/benchmarks.md.
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { writeRandomFile } from "./bench-data.mjs"

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const RELPUB = path.join(ROOT, "bin", "relpub")
const BUNDLE = path.join(ROOT, "dist", "launch.cjs")
const DOC = path.join(ROOT, "docs", "benchmarks.md")

const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const WARMUPS = 1
const STARTUP_RUNS = 10
const STARTUP_WARMUPS = 2
const SETS = (process.env.BENCH_SETS ?? "a,b").split(",").map((s) => s.trim()).filter(Boolean)
const WRITE_DOCS = process.env.BENCH_NO_DOCS === undefined
const IDLE_TARGET = Number(process.env.BENCH_IDLE ?? 0.85)
const RT = process.env.BENCH_RT !== undefined && process.env.BENCH_RT !== "0"
const IDLE_WAIT_MS = RT ? 0 : Number(process.env.BENCH_IDLE_WAIT_MS ?? 1500)
const MODE = RT ? "rt" : "default"

const TARGET_RATIO = 1.5
const TARGET_RSS_BYTES = 150e6 // "150 MB", read strictly as 150,000,000 bytes (143.1 MiB)
const TARGET_STARTUP_RATIO = 3

const KiB = 1024
const MiB = 1024 * KiB

// Data sets exactly as shared/PERFORMANCE.md defines them (MiB = 2^20 bytes).
const DATA_SETS = {
  a: {
    label: "a: 42 files / 50 MiB",
    groups: [
      { name: "large", sizes: [15 * MiB, 12 * MiB, 8 * MiB, 5 * MiB] },
      { name: "mid", sizes: Array(8).fill(1 * MiB) },
      { name: "small", sizes: Array(30).fill(68 * KiB) }
    ]
  },
  b: {
    label: "b: 100 files / 200 MiB",
    groups: [
      { name: "large", sizes: Array(4).fill(30 * MiB) },
      { name: "medium", sizes: Array(6).fill(8 * MiB) },
      { name: "mid", sizes: Array(20).fill(1 * MiB) },
      { name: "small", sizes: Array(70).fill(175 * KiB) }
    ]
  }
}

// ---------------------------------------------------------------- helpers

const hr = () => process.hrtime.bigint()
const msSince = (t0) => Number(hr() - t0) / 1e6

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}
const stats = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length })
const fmtMs = (s) => `${Math.round(s.median)} (${Math.round(s.min)}–${Math.round(s.max)})`
const fmtMiB = (bytes) => (bytes / MiB).toFixed(1)
const fmtRatio = (r) => r.toFixed(2)

const log = (...a) => process.stderr.write(a.join(" ") + "\n")

/** Run a command to completion; wall time is taken from just before spawn to the child's exit. */
const run = (cmd, args, options = {}) =>
  new Promise((resolve, reject) => {
    const t0 = hr()
    let exitMs
    const child = spawn(cmd, args, {
      cwd: options.cwd ?? ROOT,
      stdio: ["ignore", options.captureStdout ? "pipe" : "ignore", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout?.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    let peak = 0
    let poll
    if (options.pollRss) {
      // Fallback when /usr/bin/time is missing: VmHWM is the high-water mark, so
      // sparse polling only misses growth in the last few milliseconds.
      poll = setInterval(() => {
        try {
          const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, "utf8"))
          if (m) peak = Math.max(peak, Number(m[1]) * KiB)
        } catch {}
      }, 10)
    }
    child.on("error", reject)
    child.on("exit", () => {
      exitMs = msSince(t0)
      if (poll) clearInterval(poll)
    })
    child.on("close", (code, signal) => {
      const result = { code, signal, ms: exitMs ?? msSince(t0), stdout, stderr, polledPeak: peak }
      if (code !== 0 && !options.allowFailure) {
        reject(new Error(`${cmd} ${args.join(" ")} exited ${code ?? signal}:\n${stderr}${stdout}`))
      } else resolve(result)
    })
  })

const GNU_TIME = fs.existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined

/**
 * Run a whole process under GNU time for its peak RSS (%M, KiB) and CPU time;
 * without GNU time, poll /proc/<pid>/status VmHWM instead.
 */
const runMeasured = async (cmd, args, options = {}) => {
  if (GNU_TIME === undefined) {
    const r = RT
      ? await run("chrt", ["-f", "10", cmd, ...args], { ...options, pollRss: true })
      : await run(cmd, args, { ...options, pollRss: true })
    return { ...r, peakRss: r.polledPeak, cpuMs: undefined }
  }
  const timeFile = path.join(os.tmpdir(), `relpub-bench-time-${process.pid}`)
  const prio = RT ? ["chrt", "-f", "10"] : []
  const r = await run(GNU_TIME, ["-f", "%M %U %S", "-o", timeFile, ...prio, cmd, ...args], options)
  const line = fs.readFileSync(timeFile, "utf8").trim().split("\n").pop()
  fs.rmSync(timeFile, { force: true })
  const [rssKiB, user, sys] = line.split(/\s+/).map(Number)
  return { ...r, peakRss: rssKiB * KiB, cpuMs: (user + sys) * 1000 }
}

/** Fraction of CPU time that was idle (idle + iowait) over `ms`, from /proc/stat. */
const cpuIdle = async (ms) => {
  const sample = () => {
    const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number)
    return { idle: f[3] + (f[4] ?? 0), total: f.slice(0, 8).reduce((s, x) => s + x, 0) }
  }
  const a = sample()
  await new Promise((r) => setTimeout(r, ms))
  const b = sample()
  return b.total === a.total ? 1 : (b.idle - a.idle) / (b.total - a.total)
}

/** Wait until the machine looks idle (other work shares these cores); returns the last idle fraction seen. */
const idleSamples = []
const waitForIdle = async () => {
  const t0 = Date.now()
  let idle = await cpuIdle(250)
  while (idle < IDLE_TARGET && Date.now() - t0 < IDLE_WAIT_MS) idle = await cpuIdle(250)
  idleSamples.push(idle)
  return idle
}

const sync = () => run("sync", [])

/** Load average and CPU pressure (PSI "some", share of time runnable tasks waited for a CPU, last 60 s). */
const loadNow = () => {
  const la = os.loadavg().map((x) => x.toFixed(2)).join(" ")
  let psi = ""
  try {
    const m = /^some .*avg60=([\d.]+)/m.exec(fs.readFileSync("/proc/pressure/cpu", "utf8"))
    if (m) psi = `, CPU pressure ${m[1]} %`
  } catch {}
  return `${la}${psi}`
}

// ---------------------------------------------------------------- machine

const sh = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: "utf8" })
  return r.status === 0 ? r.stdout.trim() : undefined
}

const machineInfo = (dir) => {
  const cpuinfo = fs.readFileSync("/proc/cpuinfo", "utf8")
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown"
  const flags = /^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.split(/\s+/) ?? []
  const memKiB = Number(/^MemTotal:\s+(\d+)/m.exec(fs.readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0)
  const dfLine = sh("df", ["-T", dir])?.split("\n")[1]?.split(/\s+/)
  const detected = sh("systemd-detect-virt", [])
  const virt = [
    detected && detected !== "none" ? `systemd-detect-virt: ${detected}` : undefined,
    flags.includes("hypervisor") ? "CPU flag hypervisor set (a VM)" : undefined
  ].filter(Boolean).join("; ") || "none detected"
  return {
    cpu: model,
    cpuFeatures: ["sha_ni", "avx2"].filter((f) => flags.includes(f)),
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    memGiB: memKiB / (1024 * 1024),
    kernel: os.release(),
    virt,
    node: process.version,
    openssl: sh("openssl", ["version"]) ?? "missing",
    nodeOpenssl: process.versions.openssl,
    fs: dfLine ? `${dfLine[1]} on ${dfLine[0]} (mounted at ${dfLine[6]})` : sh("stat", ["-f", "-c", "%T", dir]) ?? "unknown",
    gnuTime: GNU_TIME !== undefined
  }
}

// ---------------------------------------------------------------- data

/** Write a release (random bytes + manifest.json) and a passing validation.json beside it. */
const makeRelease = (base, key) => {
  const def = DATA_SETS[key]
  const dir = path.join(base, `set-${key}`)
  const release = path.join(dir, "release")
  fs.mkdirSync(release, { recursive: true })
  const files = []
  for (const group of def.groups) {
    const sub = group.name === "small" ? "assets" : "dist"
    fs.mkdirSync(path.join(release, sub), { recursive: true })
    group.sizes.forEach((size, i) => {
      const rel = `${sub}/${group.name}-${String(i).padStart(2, "0")}.bin`
      files.push({ path: rel, sha256: writeRandomFile(path.join(release, rel), size), size })
    })
  }
  const manifest = { schema: "relpub/manifest/v1", files }
  fs.writeFileSync(path.join(release, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n")
  const validation = path.join(dir, "validation.json")
  fs.writeFileSync(validation, JSON.stringify({ passed: true }) + "\n")
  const allFiles = [...files.map((f) => f.path), "manifest.json"]
  const bytes = files.reduce((n, f) => n + f.size, 0)
  return { key, label: def.label, dir, release, validation, allFiles, count: files.length, bytes }
}

// ---------------------------------------------------------------- measurements

/** The floor: hash every file with OpenSSL, then a durable copy (cp -r, sync); one timed sequence. */
const floorOnce = async (set, dst) => {
  const t0 = hr()
  const h = await runMeasured("openssl", ["dgst", "-sha256", ...set.allFiles], { cwd: set.release })
  const c = await runMeasured("cp", ["-r", set.release, dst])
  const s = await runMeasured("sync", [])
  const ms = msSince(t0)
  const cpuMs = h.cpuMs === undefined ? undefined : h.cpuMs + c.cpuMs + s.cpuMs
  return { ms, cpuMs, hashMs: h.ms, cpMs: c.ms, syncMs: s.ms }
}

let versionCounter = 0
const relpubOnce = async (set, repo) => {
  const version = `v1.0.${versionCounter++}`
  const r = await runMeasured(RELPUB, [
    "publish", set.release,
    "--version", version,
    "--repository", repo,
    "--validation-result", set.validation
  ], { captureStdout: true, allowFailure: true })
  if (r.code !== 0 || !/published /.test(r.stdout + r.stderr)) {
    throw new Error(`relpub publish failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`)
  }
  const published = path.join(repo, "releases", version)
  const n = fs.readdirSync(published, { recursive: true }).length
  if (n < set.count) throw new Error(`${published} holds ${n} entries, expected at least ${set.count}`)
  const inProcess = /duration\s+([\d.]+) s/.exec(r.stdout)
  return { ms: r.ms, peakRss: r.peakRss, cpuMs: r.cpuMs, inProcessMs: inProcess ? Number(inProcess[1]) * 1000 : undefined }
}

const removeUntimed = async (dir) => {
  fs.rmSync(dir, { recursive: true, force: true })
  await sync() // so the next timed run does not pay for this one's deletes
}

const benchSet = async (set, work) => {
  const floor = []
  const relpub = []
  for (let i = 0; i < WARMUPS + RUNS; i++) {
    const counted = i >= WARMUPS
    // Alternate which side goes first so drift in background load hits both.
    const order = i % 2 === 0 ? ["floor", "relpub"] : ["relpub", "floor"]
    for (const side of order) {
      const dst = path.join(work, `${side}-${set.key}-${i}`)
      await waitForIdle()
      const r = side === "floor" ? await floorOnce(set, dst) : await relpubOnce(set, dst)
      await removeUntimed(dst)
      if (counted) (side === "floor" ? floor : relpub).push(r)
      log(`  ${set.key} ${counted ? `run ${i - WARMUPS + 1}` : "warm-up"} ${side.padEnd(6)} ${r.ms.toFixed(0)} ms` +
        (r.peakRss ? `, peak RSS ${fmtMiB(r.peakRss)} MiB` : ""))
    }
  }
  const pairRatios = relpub.map((r, i) => r.ms / floor[i].ms)
  const f = stats(floor.map((r) => r.ms))
  const p = stats(relpub.map((r) => r.ms))
  const inProc = relpub.map((r) => r.inProcessMs).filter((x) => x !== undefined)
  return {
    set,
    floor: f,
    floorParts: {
      hash: stats(floor.map((r) => r.hashMs)),
      cp: stats(floor.map((r) => r.cpMs)),
      sync: stats(floor.map((r) => r.syncMs))
    },
    relpub: p,
    floorCpu: floor[0].cpuMs === undefined ? undefined : stats(floor.map((r) => r.cpuMs)),
    relpubCpu: relpub[0].cpuMs === undefined ? undefined : stats(relpub.map((r) => r.cpuMs)),
    relpubInProcess: inProc.length ? stats(inProc) : undefined,
    ratio: p.median / f.median,
    pairRatios: stats(pairRatios),
    rss: stats(relpub.map((r) => r.peakRss))
  }
}

const benchStartup = async () => {
  const node = []
  const help = []
  for (let i = 0; i < STARTUP_WARMUPS + STARTUP_RUNS; i++) {
    const order = i % 2 === 0 ? ["node", "help"] : ["help", "node"]
    for (const side of order) {
      await waitForIdle()
      const r = side === "node"
        ? await runMeasured(process.execPath, ["-e", "0"])
        : await runMeasured(RELPUB, ["--help"])
      if (i >= STARTUP_WARMUPS) (side === "node" ? node : help).push(r)
    }
  }
  const n = stats(node.map((r) => r.ms))
  const h = stats(help.map((r) => r.ms))
  const cpu = (rs) => (rs[0].cpuMs === undefined ? undefined : stats(rs.map((r) => r.cpuMs)))
  return {
    node: n, help: h, ratio: h.median / n.median,
    nodeCpu: cpu(node), helpCpu: cpu(help),
    nodeRss: stats(node.map((r) => r.peakRss)), helpRss: stats(help.map((r) => r.peakRss))
  }
}

// ---------------------------------------------------------------- report

const verdict = (ok, detail) => (ok ? `**met** (${detail})` : `**missed** (${detail})`)
const over = (ratio, target) => {
  const pct = (ratio / target - 1) * 100
  return `${pct < 10 ? pct.toFixed(1) : pct.toFixed(0)} % over`
}

const render = ({ machine, date, results, startup, elapsedS, idle, loadBefore, loadAfter }) => {
  const b = results.find((r) => r.set.key === "b")
  const lines = []
  lines.push(RT
    ? "## Run at real-time priority (`BENCH_RT=1 npm run bench`)"
    : "## Run as `npm run bench` (default mode)")
  lines.push("")
  if (RT) {
    lines.push("Every timed command (the floor's three, relpub, both start-up commands) ran under `chrt -f 10`, so other work on " +
      "this shared machine could not take its CPUs; kernel threads (writeback) and the disk stay shared. This approximates an idle " +
      "machine and is a deviation from the default method: quote the default section for the issue's targets, this one for how " +
      "relpub behaves without contention.")
    lines.push("")
  }
  lines.push(`Generated by \`npm run bench\` (scripts/bench.mjs) on ${date}. Re-run it to refresh this section;`)
  lines.push("absolute figures drift between runs and machines (shared cores), ratios measured in one run hold better.")
  lines.push("")
  lines.push("### Machine")
  lines.push("")
  lines.push(`- CPU: ${machine.cpu} (${machine.cpuFeatures.join(", ") || "no SHA-NI/AVX2 flag"}), ${machine.nproc} CPUs` +
    `, virtualisation: ${machine.virt}`)
  lines.push(`- Memory: ${machine.memGiB.toFixed(1)} GiB; kernel ${machine.kernel}`)
  lines.push(`- Disk: ${machine.fs}; the releases, the floor's copies and relpub's repositories all live in one temp dir on it, the same filesystem as the repository checkout`)
  lines.push(`- Node ${machine.node} (its OpenSSL ${machine.nodeOpenssl}); CLI ${machine.openssl}`)
  lines.push(`- Peak RSS from ${machine.gnuTime ? "GNU time `%M` (`/usr/bin/time`, Debian package `time`)" : "polling /proc/<pid>/status VmHWM every 10 ms (GNU time missing)"}`)
  lines.push(`- Load: load average ${loadBefore} before; ${loadAfter} after; CPU idle in the 250 ms before each timed command: median ${(median(idle) * 100).toFixed(0)} %, min ${(Math.min(...idle) * 100).toFixed(0)} % (${idle.filter((x) => x >= IDLE_TARGET).length} of ${idle.length} commands started at ≥ ${(IDLE_TARGET * 100).toFixed(0)} % idle${RT ? "; real-time mode does not wait" : ""})`)
  lines.push(`- Whole bench: ${elapsedS.toFixed(0)} s`)
  lines.push("")
  lines.push("### Method")
  lines.push("")
  lines.push("- Data sets as in shared/PERFORMANCE.md: **a** = 42 files / 50 MiB (15+12+8+5 MiB, 8×1 MiB, 30×68 KiB); " +
    "**b** = 100 files / 200 MiB (4×30, 6×8, 20×1 MiB, 70×175 KiB). Random bytes, written once per bench run, plus a " +
    "`manifest.json` (relpub/manifest/v1, path/sha256/size of every file) so the release passes the strict policy, and a " +
    "`validation.json` (`{\"passed\": true}`) beside the release passed as `--validation-result`. Warm page cache.")
  lines.push("- **Floor** (one timed sequence of three whole processes): `openssl dgst -sha256 <all files, manifest.json included>`, " +
    "then `cp -r <release> <dst>`, then `sync` — hash plus a durable copy on the same disk.")
  lines.push("- **relpub**: `bin/relpub publish <release> --version v1.0.N --repository <fresh dir> --validation-result validation.json` " +
    "(strict policy), the whole process: `sh` wrapper, Node start-up, bundle load, hashing, staging with fsync per file, promotion, " +
    "release record, index and audit record. Wall clock from spawn to exit with `process.hrtime.bigint()`; the run fails if " +
    "the exit code is not 0.")
  lines.push(`- Per set: ${WARMUPS} warm-up + ${RUNS} counted runs, floor and relpub alternating (the order flips every run). ` +
    "Each destination is removed after its run, then `sync` (untimed). " + (RT
      ? "Real-time mode: no waiting for idle CPUs."
      : `Before each timed command the bench waits up to ${IDLE_WAIT_MS / 1000} s for ≥ ${(IDLE_TARGET * 100).toFixed(0)} % CPU idle over 250 ms (other work shares this machine).`))
  lines.push(`- Figures: **median (min–max)** ms. Ratio = median relpub / median floor; in brackets the range of the per-run ratios ` +
    "(each relpub run against the floor run next to it).")
  lines.push(`- Start-up: \`node -e 0\` vs \`bin/relpub --help\`, ${STARTUP_WARMUPS} warm-ups + ${STARTUP_RUNS} runs each, alternating. ` +
    "Every timed process (the floor's three, relpub, both start-up commands) runs under GNU time for its CPU time and peak RSS; that adds ≈1 ms per process.")
  lines.push("")
  lines.push("### Results")
  lines.push("")
  lines.push("| set | floor: openssl dgst + cp -r + sync | relpub publish (whole process) | **ratio** (per-run range) | ratio of minima | relpub peak RSS MiB |")
  lines.push("|---|---|---|---|---|---|")
  for (const r of results) {
    lines.push(`| ${r.set.label} | ${fmtMs(r.floor)} | ${fmtMs(r.relpub)} | **${fmtRatio(r.ratio)}** ` +
      `(${fmtRatio(r.pairRatios.min)}–${fmtRatio(r.pairRatios.max)}) | ${fmtRatio(r.relpub.min / r.floor.min)} | ` +
      `${fmtMiB(r.rss.median)} (${fmtMiB(r.rss.min)}–${fmtMiB(r.rss.max)}) |`)
  }
  lines.push("")
  lines.push("CPU time (user+sys, from GNU time; less sensitive than wall time to other work on the machine) and relpub's own in-process time. " +
    "Kernel writeback threads are charged to neither side, so the floor's CPU leaves out most of the cost of its `sync`:")
  lines.push("")
  lines.push("| set | floor CPU ms | relpub CPU ms | CPU ratio | relpub in-process ms (report `duration`) | relpub outside it (start-up, exit) |")
  lines.push("|---|---|---|---|---|---|")
  for (const r of results) {
    const cpuRatio = r.floorCpu && r.relpubCpu ? fmtRatio(r.relpubCpu.median / r.floorCpu.median) : "–"
    lines.push(`| ${r.set.key} | ${r.floorCpu ? fmtMs(r.floorCpu) : "–"} | ${r.relpubCpu ? fmtMs(r.relpubCpu) : "–"} | ${cpuRatio} | ` +
      `${r.relpubInProcess ? fmtMs(r.relpubInProcess) : "–"} | ${r.relpubInProcess ? Math.round(r.relpub.median - r.relpubInProcess.median) : "–"} |`)
  }
  lines.push("")
  lines.push("Floor broken down (ms, medians of the same runs):")
  lines.push("")
  lines.push("| set | `openssl dgst -sha256` | `cp -r` | `sync` |")
  lines.push("|---|---|---|---|")
  for (const r of results) {
    lines.push(`| ${r.set.key} | ${fmtMs(r.floorParts.hash)} | ${fmtMs(r.floorParts.cp)} | ${fmtMs(r.floorParts.sync)} |`)
  }
  lines.push("")
  if (startup) {
    const cpuCell = (c) => (c ? fmtMs(c) : "–")
    lines.push("| start-up | wall ms | CPU ms (user+sys) | peak RSS MiB |")
    lines.push("|---|---|---|---|")
    lines.push(`| \`node -e 0\` | ${fmtMs(startup.node)} | ${cpuCell(startup.nodeCpu)} | ${fmtMiB(startup.nodeRss.median)} |`)
    lines.push(`| \`bin/relpub --help\` | ${fmtMs(startup.help)} | ${cpuCell(startup.helpCpu)} | ${fmtMiB(startup.helpRss.median)} |`)
    lines.push(`| ratio | **${fmtRatio(startup.ratio)}** (minima ${fmtRatio(startup.help.min / startup.node.min)}) | ` +
      `${startup.nodeCpu ? fmtRatio(startup.helpCpu.median / startup.nodeCpu.median) : "–"} | |`)
    lines.push("")
  }
  lines.push("### Targets")
  lines.push("")
  if (!RT && median(idle) < 0.5) {
    lines.push(`> Other work kept this machine busy during the run (median CPU idle before a timed command ${(median(idle) * 100).toFixed(0)} %), ` +
      "so wall times, and the ratios built on them, are inflated and noisy: relpub runs more processes and threads than the floor " +
      "and loses more to contention. The CPU-time columns and the ratio of minima are the steadier figures; re-run on a quiet machine before quoting a ratio.")
    lines.push("")
  }
  if (b) {
    lines.push(`- Ratio ≤ ${TARGET_RATIO} on the 200 MiB release (b): ` + verdict(b.ratio <= TARGET_RATIO,
      b.ratio <= TARGET_RATIO
        ? `${fmtRatio(b.ratio)}`
        : `${fmtRatio(b.ratio)}, ${over(b.ratio, TARGET_RATIO)}; relpub would need ≤ ${Math.round(b.floor.median * TARGET_RATIO)} ms, took ${Math.round(b.relpub.median)} ms`))
    lines.push(`- Peak RSS < 150 MB (150,000,000 bytes = 143.1 MiB) on b: ` + verdict(b.rss.max < TARGET_RSS_BYTES,
      `max ${fmtMiB(b.rss.max)} MiB = ${(b.rss.max / 1e6).toFixed(0)} MB`))
  } else lines.push("- Set b was not run, so the ratio and RSS targets were not checked.")
  if (startup) {
    lines.push(`- \`relpub --help\` within ${TARGET_STARTUP_RATIO}× \`node -e 0\`: ` + verdict(startup.ratio <= TARGET_STARTUP_RATIO,
      startup.ratio <= TARGET_STARTUP_RATIO
        ? `${fmtRatio(startup.ratio)}×`
        : `${fmtRatio(startup.ratio)}×, ${over(startup.ratio, TARGET_STARTUP_RATIO)}; would need ≤ ${Math.round(startup.node.median * TARGET_STARTUP_RATIO)} ms`))
  }
  const a = results.find((r) => r.set.key === "a")
  if (a) lines.push(`- For reference, set a (no target set by the issue): ratio ${fmtRatio(a.ratio)}, peak RSS ${fmtMiB(a.rss.max)} MiB.`)
  return lines.join("\n")
}

const BEGIN = `<!-- bench:${MODE}:begin (generated by scripts/bench.mjs; edits between the markers are overwritten) -->`
const END = `<!-- bench:${MODE}:end -->`

const writeDoc = (section) => {
  const generated = `${BEGIN}\n${section}\n${END}`
  let text
  if (fs.existsSync(DOC)) {
    const old = fs.readFileSync(DOC, "utf8")
    const i = old.indexOf(`<!-- bench:${MODE}:begin`)
    const j = old.indexOf(END)
    text = i >= 0 && j > i ? old.slice(0, i) + generated + old.slice(j + END.length) : `${old.trimEnd()}\n\n${generated}\n`
  } else {
    text = `# Benchmarks\n\n${generated}\n`
  }
  fs.mkdirSync(path.dirname(DOC), { recursive: true })
  fs.writeFileSync(DOC, text)
}

// ---------------------------------------------------------------- main

const main = async () => {
  if (!fs.existsSync(BUNDLE)) {
    log(`bench: ${path.relative(ROOT, BUNDLE)} is missing; run 'node scripts/build.mjs' (or 'make build') first`)
    process.exit(1)
  }
  const newestSrc = fs.readdirSync(path.join(ROOT, "src"), { recursive: true })
    .filter((f) => String(f).endsWith(".ts"))
    .reduce((t, f) => Math.max(t, fs.statSync(path.join(ROOT, "src", String(f))).mtimeMs), 0)
  if (newestSrc > fs.statSync(BUNDLE).mtimeMs) log("bench: warning: src/ is newer than dist/launch.cjs; rebuild for current figures")
  for (const tool of ["openssl", "cp", "sync"]) {
    if (sh("sh", ["-c", `command -v ${tool}`]) === undefined) {
      log(`bench: ${tool} is missing`)
      process.exit(1)
    }
  }
  if (GNU_TIME === undefined) log("bench: /usr/bin/time missing (apt-get install -y time); polling /proc VmHWM for peak RSS")
  for (const key of SETS) if (!(key in DATA_SETS)) throw new Error(`unknown data set ${key} (a, b)`)

  const started = Date.now()
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "relpub-bench-"))
  const sameFs = fs.statSync(work).dev === fs.statSync(ROOT).dev
  const machine = machineInfo(work)
  if (!sameFs) log(`bench: warning: ${work} is not on the filesystem of ${ROOT}`)
  machine.fs += sameFs ? "" : " (NOT the repository's filesystem)"
  const loadBefore = loadNow()
  log(`bench: work dir ${work} (${machine.fs})`)

  const cleanup = () => fs.rmSync(work, { recursive: true, force: true })
  process.on("SIGINT", () => {
    cleanup()
    process.exit(130)
  })
  try {
    const sets = SETS.map((key) => {
      const t0 = hr()
      const set = makeRelease(work, key)
      log(`bench: wrote set ${key}: ${set.count} files + manifest.json, ${fmtMiB(set.bytes)} MiB in ${msSince(t0).toFixed(0)} ms`)
      return set
    })
    await sync() // the generated data must not be flushed inside a timed run

    const results = []
    for (const set of sets) {
      log(`bench: set ${set.label}`)
      results.push(await benchSet(set, work))
    }
    log("bench: start-up")
    const startup = await benchStartup()

    const loadAfter = loadNow()
    const date = new Date().toISOString().replace(/\.\d+Z$/, "Z")
    const section = render({
      machine, date, results, startup, elapsedS: (Date.now() - started) / 1000, idle: idleSamples, loadBefore, loadAfter
    })
    process.stdout.write("\n" + section + "\n")
    if (WRITE_DOCS) {
      writeDoc(section)
      log(`\nbench: wrote ${path.relative(ROOT, DOC)}`)
    }
  } finally {
    cleanup()
  }
}

await main()
