// Regenerate deno.json's import map from package.json's dependencies, so Deno
// runs the versions npm pinned (shared/ECOSYSTEM.md, Deno section). Keys other
// than "imports" are kept; a missing deno.json is created with the defaults.
//
//   node scripts/deno-imports.mjs                rewrite deno.json
//   node scripts/deno-imports.mjs --check        exit 1, naming the drift, if it is stale
//   node scripts/deno-imports.mjs --root DIR     work on DIR/package.json and DIR/deno.json
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

// "manual": Deno uses the node_modules npm installed (offline, same files as
// Node). "auto" would make Deno install its own copy there from the registry.
// Tasks name the binary by path: inside `deno task`, a bare `deno` resolves to
// node_modules/.bin/deno, which deno task then tries to run as JavaScript.
const deno = "./node_modules/.bin/deno"
const defaults = {
  nodeModulesDir: "manual",
  tasks: {
    relpub: `${deno} run -A src/cli/main.ts`,
    check: `${deno} check src/cli/main.ts src/index.ts`
  }
}

const args = process.argv.slice(2)
const at = args.indexOf("--root")
const root = at >= 0
  ? path.resolve(args[at + 1] ?? ".")
  : path.resolve(fileURLToPath(new URL("..", import.meta.url)))
const check = args.includes("--check")

const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"))
const dependencies = pkg.dependencies ?? {}
const imports = Object.fromEntries(
  Object.keys(dependencies).sort().map((name) => [name, `npm:${name}@${dependencies[name]}`])
)

const file = path.join(root, "deno.json")
const current = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : undefined
const rest = current === undefined
  ? defaults
  : Object.fromEntries(Object.entries(current).filter(([key]) => key !== "imports"))
const text = JSON.stringify({ imports, ...rest }, null, 2) + "\n"

if (check) {
  const have = current?.imports ?? {}
  const drift = [
    ...Object.keys(imports).filter((k) => have[k] !== imports[k])
      .map((k) => `${k}: ${have[k] ?? "missing"}, want ${imports[k]}`),
    ...Object.keys(have).filter((k) => !(k in imports))
      .map((k) => `${k}: not a dependency in package.json`)
  ]
  if (drift.length > 0) {
    const fix = "run node scripts/deno-imports.mjs"
    process.stderr.write(
      `deno.json imports differ from package.json (${fix}):\n${
        drift.map((d) => `  ${d}\n`).join("")
      }`
    )
    process.exit(1)
  }
} else {
  fs.writeFileSync(file, text)
}
