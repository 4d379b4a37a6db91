// Build the shipped CLI and library.
//
// The CLI is one CommonJS bundle run through a small launcher that keeps V8's
// compiled code between runs (Node 20 has no built-in compile cache): start-up
// drops from ~1.8 s unbundled to ~0.4 s bundled, and by a further ~35 % with
// the code cache (docs/benchmarks.md). Cloud SDKs and verification libraries
// stay external and are loaded only by the commands that need them.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import { build } from "esbuild"

const external = [
  "@aws-sdk/*",
  "@smithy/*",
  "@google-cloud/*",
  "@azure/*",
  "@cyclonedx/cyclonedx-library",
  "ajv",
  "ajv-formats",
  "ajv-formats-draft2019",
  "openpgp",
  "@sigstore/*"
]

// Build beside dist/ and rename each file into place, so a build never leaves
// dist/ half-written for a CLI that is running meanwhile (tests, CI).
const out = `dist/.build-${process.pid}`
fs.rmSync(out, { recursive: true, force: true })
fs.mkdirSync(out, { recursive: true })

await build({
  entryPoints: ["src/cli/main.ts"],
  outfile: `${out}/relpub.cjs`,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  minify: true,
  sourcemap: "linked",
  legalComments: "linked",
  external,
  // import() of an external package becomes require(): a vm.Script has no
  // dynamic-import loader on Node 20.
  supported: { "dynamic-import": false },
  logLevel: "warning"
})

fs.copyFileSync("scripts/launch.cjs", `${out}/launch.cjs`)

// Fill the code cache with what a typical run compiles.
execFileSync(process.execPath, [`${out}/launch.cjs`, "--help"], {
  env: { ...process.env, RELPUB_WRITE_CODE_CACHE: "1", NO_COLOR: "1" },
  stdio: "ignore"
})

await build({
  entryPoints: ["src/index.ts"],
  outfile: `${out}/index.js`,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: "linked",
  logLevel: "warning"
})

for (const name of fs.readdirSync(out)) fs.renameSync(`${out}/${name}`, `dist/${name}`)
fs.rmSync(out, { recursive: true, force: true })
