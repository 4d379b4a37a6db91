#!/usr/bin/env node
// Usage: node scripts/servers/stop.mjs [--out FILE]
// Stops the servers recorded in FILE (default: .servers.json), removes their
// temporary directories and then FILE itself.
import { rmSync } from "node:fs"
import { parseArgs, runMain } from "./cli.mjs"
import { readInfo, stopServers } from "./servers.mjs"

await runMain(async (argv) => {
  const { out } = parseArgs(argv)
  const info = readInfo(out)
  if (!info) {
    process.stdout.write(`${out}: no servers recorded\n`)
    return
  }
  const results = await stopServers(info)
  rmSync(out, { force: true })
  for (const r of results) process.stdout.write(`${r.name.padEnd(9)} pid ${r.pid} ${r.outcome}\n`)
})
