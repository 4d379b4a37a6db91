#!/usr/bin/env node
// Usage: node scripts/servers/start.mjs [seaweedfs] [moto] [gcs] [azurite] [--out FILE]
// Starts the servers (default: all), creates bucket `relpub-test` on each and
// writes their connection details to FILE (default: .servers.json).
// The servers keep running after this exits; stop them with stop.mjs.
import { parseArgs, runMain } from "./cli.mjs"
import { ALL_SERVERS, anyRunning, readInfo, startServers, stopServers, writeInfo } from "./servers.mjs"

function summary(s) {
  return `${s.name.padEnd(9)} ${s.endpoint.padEnd(42)} bucket ${s.bucket}  pid ${s.pid}  ready in ${s.startMs} ms`
}

await runMain(async (argv) => {
  const { names, out } = parseArgs(argv)
  if (anyRunning(readInfo(out))) {
    throw new Error(`${out} lists servers that are still running: run stop.mjs --out ${out} first, or use another --out`)
  }
  // Ctrl-C during start: abort, so that startServers stops what it started.
  const abort = new AbortController()
  const onSignal = () => abort.abort()
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  const info = await startServers(names.length > 0 ? names : ALL_SERVERS, { signal: abort.signal })
  try {
    writeInfo(info, out)
  } catch (err) {
    await stopServers(info)
    throw err
  }
  for (const s of Object.values(info.servers)) process.stdout.write(`${summary(s)}\n`)
  process.stdout.write(`wrote ${out}\n`)
})
