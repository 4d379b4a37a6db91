#!/usr/bin/env node
// Cloud leg of the bench: publish data set b (100 files / 200 MiB, as in
// scripts/bench.mjs) to a local SeaweedFS S3 server with `relpub publish`, and
// in the same run upload the same files to the same server with `rclone copy`
// (default --transfers 4, and --transfers 2) and `aws s3 cp --recursive`.
// Every run goes to a fresh prefix (relpub: a fresh version in one repository). 1 warm-up round + BENCH_RUNS (5) counted
// rounds; the tools are interleaved within each round so that load changes on
// the machine hit all of them alike. Reports median (min–max) wall ms and the
// peak RSS from GNU time (%M). Prints a Markdown table; does not write docs.
//
// Run: node scripts/build.mjs && node scripts/bench-cloud.mjs
// Needs: the servers (bash scripts/servers/install.sh), rclone, aws (the
// Debian awscli package at /usr/bin/aws is preferred; AWS_CLI=path overrides),
// /usr/bin/time. Plain Node ESM, built-ins only.
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

/** Run under GNU time; wall ms from just before spawn to exit, peak RSS in bytes. */
const runMeasured = (cmd, args, env) =>
  new Promise((resolve, reject) => {
    const timeFile = path.join(os.tmpdir(), `relpub-bench-cloud-time-${process.pid}`)
    const t0 = process.hrtime.bigint()
    const child = spawn(TIME, ["-f", "%M", "-o", timeFile, cmd, ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    child.stdout.on("data", (d) => (out += d))
    child.stderr.on("data", (d) => (out += d))
    child.on("error", reject)
    child.on("close", (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(" ")} exited ${code}:\n${out.slice(-4000)}`))
      const kib = Number(fs.readFileSync(timeFile, "utf8").trim().split("\n").pop())
      fs.rmSync(timeFile, { force: true })
      resolve({ ms, rss: kib * KiB })
    })
  })

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
    const tools = [
      {
        name: "relpub publish",
        cmd: RELPUB,
        // One repository receiving a new version each round, as in use: the warm-up's publish
        // runs the one-off guarantee probes (16 racing writers) and caches their finding.
        args: (n) => ["publish", src, "--version", `v1.0.${n}`, "--repository", `s3://${sw.bucket}/relpub`,
          "--endpoint", sw.endpoint, "--path-style", "--region", sw.region ?? "us-east-1", "--validation-result", set.validation]
      },
      { name: "rclone copy (--transfers 4, default)", cmd: RCLONE, args: (n) => ["copy", src, `sw:${sw.bucket}/rclone-${n}/`] },
      { name: "rclone copy --transfers 2", cmd: RCLONE, args: (n) => ["copy", "--transfers", "2", src, `sw:${sw.bucket}/rclone2-${n}/`] },
      { name: "aws s3 cp --recursive", cmd: AWS, args: (n) => ["--endpoint-url", sw.endpoint, "s3", "cp", "--recursive", "--only-show-errors", src, `s3://${sw.bucket}/aws-${n}/`] }
    ]
    for (const t of tools) t.samples = []

    for (let round = 0; round < WARMUPS + RUNS; round++) {
      for (const t of tools) {
        const r = await runMeasured(t.cmd, t.args(round), env)
        if (round >= WARMUPS) t.samples.push(r)
        log(`bench-cloud: ${round < WARMUPS ? "warm-up" : `run ${round}`} ${t.name}: ${Math.round(r.ms)} ms, ${(r.rss / MiB).toFixed(1)} MiB`)
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
    const rows = tools.map((t) => {
      const ms = t.samples.map((s) => s.ms)
      const rss = t.samples.map((s) => s.rss)
      const ratio = relpubMed / median(ms)
      return `| ${t.name} | ${Math.round(median(ms))} (${Math.round(Math.min(...ms))}–${Math.round(Math.max(...ms))}) | ` +
        `${(median(rss) / MiB).toFixed(1)} (${(Math.min(...rss) / MiB).toFixed(1)}–${(Math.max(...rss) / MiB).toFixed(1)}) | ` +
        `${t === tools[0] ? "—" : ratio.toFixed(2)} |`
    })
    const ratio = relpubMed / median(rclone.samples.map((s) => s.ms))
    const out = [
      `Machine: ${machine}`,
      `Versions: relpub ${versions.relpub} (Node ${versions.node}); ${versions.rclone}; ${versions.aws}; SeaweedFS ${versions.weed}`,
      `Load average (1/5/15 min): before ${loadBefore}, after ${loadAfter}`,
      `Data: ${set.count} files + manifest.json, ${(set.bytes / MiB).toFixed(0)} MiB; ${WARMUPS} warm-up + ${RUNS} counted rounds, tools interleaved, fresh prefix per run`,
      "",
      "| Tool | wall ms, median (min–max) | peak RSS MiB, median (min–max) | relpub / this |",
      "|---|---|---|---|",
      ...rows,
      "",
      `relpub / rclone (default) = ${ratio.toFixed(2)} → 1.0x target ${ratio <= 1.0 ? "met" : "NOT met"}`
    ]
    process.stdout.write(out.join("\n") + "\n")
  } finally {
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
