// Bundle the CLI into one file: start-up drops from ~1.8 s (unbundled Effect,
// @effect/cli, platform-node) to ~0.4 s (shared/PERFORMANCE.md, table 2).
// Cloud SDKs and other heavy optional packages stay external and load lazily.
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

await build({
  entryPoints: ["src/cli/main.ts"],
  outfile: "dist/relpub.mjs",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  minify: true,
  sourcemap: "linked",
  legalComments: "linked",
  external,
  banner: { js: "import { createRequire as __relpubRequire } from 'node:module'; const require = __relpubRequire(import.meta.url);" },
  logLevel: "warning"
})

await build({
  entryPoints: ["src/index.ts"],
  outfile: "dist/index.js",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: "linked",
  logLevel: "warning"
})
