// Tiny argv parser shared by start.mjs, stop.mjs and probe.mjs:
// positional names plus `--out FILE` (also `--out=FILE`).
import { resolve } from "node:path"
import { DEFAULT_INFO_FILE } from "./servers.mjs"

export function parseArgs(argv, { flags = [] } = {}) {
  const names = []
  const set = new Set()
  let out = DEFAULT_INFO_FILE
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === "--out") {
      if (i + 1 >= argv.length) throw new Error("--out needs a file name")
      out = resolve(argv[++i])
    } else if (arg.startsWith("--out=")) {
      out = resolve(arg.slice("--out=".length))
    } else if (flags.includes(arg)) {
      set.add(arg)
    } else if (arg.startsWith("-")) {
      throw new Error(`unknown option ${arg}`)
    } else {
      names.push(arg)
    }
  }
  return { names, out, flags: set }
}

export async function runMain(main) {
  try {
    await main(process.argv.slice(2))
  } catch (err) {
    process.stderr.write(`${err.message}\n`)
    process.exitCode = 1
  }
}
