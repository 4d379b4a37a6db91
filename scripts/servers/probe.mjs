#!/usr/bin/env node
// Usage: node scripts/servers/probe.mjs [NAME...] [--out FILE] [--env] [--json]
// Probes which conditional-write guarantees each server gives (create-only,
// compare-and-swap, 16 racing writers, multipart/block commit, copy) and
// prints a table. Servers come from FILE (default .servers.json), or with
// --env from the RELPUB_TEST_* variables (see README.md). Exit code 1 means
// a probe could not run; a guarantee that is not given is a finding (ok=no).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true"

import { parseArgs, runMain } from "./cli.mjs"
import { serversFromEnv } from "./env.mjs"
import { probeAzure } from "./probe-azure.mjs"
import { probeGcs } from "./probe-gcs.mjs"
import { probeS3 } from "./probe-s3.mjs"
import { readInfo } from "./servers.mjs"

const PROBES = { s3: probeS3, gcs: probeGcs, azure: probeAzure }
const OVERALL_TIMEOUT_MS = 300_000

function table(rows) {
  const lines = ["| server | check | expected | observed | ok | ms |", "| --- | --- | --- | --- | --- | ---: |"]
  for (const r of rows) lines.push(`| ${r.server} | ${r.check} | ${r.expected} | ${r.observed} | ${r.pass ? "yes" : "**no**"} | ${r.ms} |`)
  return lines.join("\n")
}

async function probeServer(server) {
  const began = Date.now()
  const rows = await PROBES[server.kind](server)
  return { rows: rows.map((r) => ({ server: server.name, ...r })), ms: Date.now() - began }
}

await runMain(async (argv) => {
  const { names, out, flags } = parseArgs(argv, { flags: ["--env", "--json"] })
  const info = flags.has("--env") ? serversFromEnv() : readInfo(out)
  if (!info) throw new Error(`${out} not found: start the servers first (node scripts/servers/start.mjs)`)
  const servers = Object.values(info.servers).filter((s) => names.length === 0 || names.includes(s.name))
  if (servers.length === 0) throw new Error("no server to probe")
  const watchdog = setTimeout(() => {
    process.stderr.write(`probe: gave up after ${OVERALL_TIMEOUT_MS} ms\n`)
    process.exit(1)
  }, OVERALL_TIMEOUT_MS)
  watchdog.unref()
  // One server at a time, so the 16-writer races are not skewed by the others.
  const results = []
  for (const server of servers) results.push(await probeServer(server))
  clearTimeout(watchdog)
  const rows = results.flatMap((r) => r.rows)
  if (flags.has("--json")) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`)
  } else {
    process.stdout.write(`${table(rows)}\n`)
    for (const [i, s] of servers.entries()) {
      const r = results[i].rows
      process.stdout.write(`${s.name}: ${r.filter((x) => x.pass).length}/${r.length} guarantees given (${results[i].ms} ms)\n`)
    }
  }
})
