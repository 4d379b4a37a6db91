"use strict"
// Runs dist/relpub.cjs with V8's code cache (dist/relpub.cjs.cache, written at
// build time). A cache that V8 rejects (another Node version) is ignored.
const fs = require("node:fs")
const path = require("node:path")
const vm = require("node:vm")
const Module = require("node:module")

const file = path.join(__dirname, "relpub.cjs")
const cacheFile = `${file}.cache`
const source = fs.readFileSync(file, "utf8")
let cachedData
try {
  cachedData = fs.readFileSync(cacheFile)
} catch {
  cachedData = undefined
}
const script = new vm.Script(Module.wrap(source), { filename: file, cachedData })
const mod = { exports: {}, filename: file, id: file, loaded: false }
script.runInThisContext()(mod.exports, Module.createRequire(file), mod, file, __dirname)

if (process.env.RELPUB_WRITE_CODE_CACHE === "1") {
  process.on("exit", () => fs.writeFileSync(cacheFile, script.createCachedData()))
}
