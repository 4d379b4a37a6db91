// Programmatic API for the cloud test servers (used by start.mjs/stop.mjs and
// usable from a vitest globalSetup):
//   const info = await startServers(["seaweedfs", "gcs"])
//   ... info.servers.seaweedfs.endpoint ...
//   await stopServers(info)
// Each server runs detached in its own process group, from its own mkdtemp
// directory (its cwd), on 127.0.0.1 ports the OS reported free.
import { spawn } from "node:child_process"
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, writeFileSync } from "node:fs"
import { rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { setTimeout as sleep } from "node:timers/promises"
import { ALL_SERVERS, DEFINITIONS } from "./definitions.mjs"
import { freePorts } from "./net.mjs"

export { ALL_SERVERS } from "./definitions.mjs"
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..")
export const DEFAULT_INFO_FILE = join(REPO_ROOT, ".servers.json")

const POLL_MS = 150
const STOP_GRACE_MS = 10_000
const KILL_WAIT_MS = 5_000
const PORT_RETRIES = 3
const LOG_TAIL_LINES = 30

// ---- process helpers -------------------------------------------------------

// Linux: live (non-zombie) processes whose process group is `pgid`.
// Elsewhere: whether signal 0 reaches the group.
function groupAlive(pgid) {
  if (existsSync("/proc/self/stat")) {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue
      let stat
      try {
        stat = readFileSync(`/proc/${entry}/stat`, "utf8")
      } catch {
        continue
      }
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      if (Number(pgrp) === pgid && state !== "Z") return true
    }
    return false
  }
  try {
    process.kill(-pgid, 0)
    return true
  } catch {
    return false
  }
}

function signalGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal)
  } catch {
    // already gone
  }
}

async function waitGroupGone(pgid, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (!groupAlive(pgid)) return true
    await sleep(100)
  }
  return !groupAlive(pgid)
}

// A recorded pid is ours only if that process still runs from our directory
// (guards against pid reuse). Where /proc is missing, trust the record.
function ownsProcess(pid, root) {
  if (!existsSync("/proc/self/cwd")) return true
  try {
    return readlinkSync(`/proc/${pid}/cwd`) === root
  } catch {
    return false
  }
}

// Linux: whether process `pid` itself holds the listening socket on `port`
// (so a readiness probe did not reach another run's server that took the
// port first). Elsewhere: assume yes.
function listensOn(pid, port) {
  if (!existsSync("/proc/net/tcp")) return true
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0")
  const inodes = new Set()
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let lines = []
    try {
      lines = readFileSync(table, "utf8").split("\n").slice(1)
    } catch {
      continue
    }
    for (const line of lines) {
      const f = line.trim().split(/\s+/)
      if (f.length > 9 && f[1].endsWith(`:${hexPort}`) && f[3] === "0A") inodes.add(f[9])
    }
  }
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return inodes.has(/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1])
      } catch {
        return false
      }
    })
  } catch {
    return false
  }
}

async function killGroup(pgid) {
  signalGroup(pgid, "SIGTERM")
  if (await waitGroupGone(pgid, STOP_GRACE_MS)) return "stopped"
  signalGroup(pgid, "SIGKILL")
  if (await waitGroupGone(pgid, KILL_WAIT_MS)) return "killed"
  throw new Error(`process group ${pgid} survived SIGKILL`)
}

function logTail(logFile) {
  try {
    const lines = readFileSync(logFile, "utf8").trimEnd().split("\n")
    return lines.slice(-LOG_TAIL_LINES).join("\n")
  } catch {
    return "(no log)"
  }
}

// ---- starting ----------------------------------------------------------------

function spawnDetached({ file, args, env }, root, logFile) {
  const fd = openSync(logFile, "a")
  try {
    return spawn(file, args, { cwd: root, env, detached: true, stdio: ["ignore", fd, fd] })
  } finally {
    closeSync(fd)
  }
}

// Resolves when the bucket exists; rejects when the process exits, or at the
// deadline with the last error seen.
async function waitReady(def, info, child, timeoutMs, signal) {
  let exit
  child.once("exit", (code, signal) => (exit = { code, signal }))
  child.once("error", (err) => (exit = { error: err.message }))
  const deadline = Date.now() + timeoutMs
  let lastError = "no attempt"
  while (Date.now() < deadline) {
    if (exit) throw new Error(`exited early (${JSON.stringify(exit)})`)
    if (signal?.aborted) throw new Error("start aborted")
    try {
      await def.createBucket(info)
    } catch (err) {
      lastError = err.message
      await sleep(POLL_MS)
      continue
    }
    if (listensOn(child.pid, Number(new URL(info.endpoint).port))) return
    throw Object.assign(new Error("another process answered on our port"), { portClash: true })
  }
  throw new Error(`not ready after ${timeoutMs} ms (last probe: ${lastError})`)
}

async function startAttempt(def, repoRoot, signal) {
  const root = mkdtempSync(join(tmpdir(), `relpub-${def.name}-`))
  const dataDir = join(root, "data")
  const logFile = join(root, "server.log")
  const ports = Object.fromEntries((await freePorts(def.ports.length)).map((p, i) => [def.ports[i], p]))
  const ctx = { repoRoot, root, dataDir, ports }
  const began = Date.now()
  let child
  try {
    mkdirSync(dataDir)
    child = spawnDetached(def.command(ctx), root, logFile)
    const info = { name: def.name, ...def.info(ctx), pid: child.pid, root, dataDir, logFile, ports }
    await waitReady(def, info, child, def.startTimeoutMs, signal)
    child.unref()
    return { ...info, startMs: Date.now() - began }
  } catch (err) {
    if (child?.pid) await killGroup(child.pid).catch(() => {})
    const tail = logTail(logFile)
    await rm(root, { recursive: true, force: true })
    await removeStaleFiles({ name: def.name, ports })
    const error = new Error(`${def.name}: ${err.message}\n--- last lines of its log ---\n${tail}`)
    error.portClash = err.portClash || /address already in use|EADDRINUSE/i.test(tail)
    throw error
  }
}

// Starts one server, retrying with fresh ports if another process grabbed one
// between our probe and the server's bind.
async function startOne(name, repoRoot, signal) {
  const def = DEFINITIONS[name]
  if (!def) throw new Error(`unknown server "${name}" (known: ${ALL_SERVERS.join(", ")})`)
  for (let attempt = 1; ; attempt++) {
    try {
      return await startAttempt(def, repoRoot, signal)
    } catch (err) {
      if (!err.portClash || attempt >= PORT_RETRIES) throw err
    }
  }
}

/**
 * Starts the named servers (default: all) concurrently. Resolves
 * `{ version: 1, startedAt, servers: { [name]: info } }`. If any fails, the
 * others are stopped and the error lists every failure. Aborting `signal`
 * stops the servers that are still starting (and then those already up).
 */
export async function startServers(names = ALL_SERVERS, { repoRoot = REPO_ROOT, signal } = {}) {
  const unique = [...new Set(names)]
  const results = await Promise.allSettled(unique.map((name) => startOne(name, repoRoot, signal)))
  const started = results.filter((r) => r.status === "fulfilled").map((r) => r.value)
  const failed = results.filter((r) => r.status === "rejected").map((r) => r.reason)
  const info = { version: 1, startedAt: new Date().toISOString(), servers: Object.fromEntries(started.map((s) => [s.name, s])) }
  if (failed.length > 0) {
    await stopServers(info)
    throw new Error(failed.map((e) => e.message).join("\n\n"))
  }
  return info
}

// ---- stopping ----------------------------------------------------------------

async function stopOne(server) {
  let outcome = "not running"
  if (server.pid && ownsProcess(server.pid, server.root)) outcome = await killGroup(server.pid)
  await rm(server.root, { recursive: true, force: true })
  await removeStaleFiles(server)
  return { name: server.name, pid: server.pid, outcome }
}

// Files a server may leave outside its directory (after a crash, SIGKILL or an
// interrupted start); removed once its process group is gone.
async function removeStaleFiles(server) {
  const files = DEFINITIONS[server.name]?.staleFiles?.(server) ?? []
  await Promise.all(files.map((f) => rm(f, { force: true })))
}

/** Stops every server in `info` (process group) and removes its directory. */
export async function stopServers(info) {
  const results = await Promise.allSettled(Object.values(info?.servers ?? {}).map(stopOne))
  const errors = results.filter((r) => r.status === "rejected").map((r) => r.reason.message)
  if (errors.length > 0) throw new Error(errors.join("\n"))
  return results.map((r) => r.value)
}

/** Whether any server recorded in `info` is still running. */
export function anyRunning(info) {
  return Object.values(info?.servers ?? {}).some((s) => s.pid && ownsProcess(s.pid, s.root) && groupAlive(s.pid))
}

// ---- info file -----------------------------------------------------------------

export function readInfo(file = DEFAULT_INFO_FILE) {
  if (!existsSync(file)) return undefined
  return JSON.parse(readFileSync(file, "utf8"))
}

export function writeInfo(info, file = DEFAULT_INFO_FILE) {
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(info, null, 2) + "\n", { mode: 0o600 })
  renameSync(tmp, file)
}
