import { Effect } from "effect"
import { execFileSync, type ExecFileSyncOptions } from "node:child_process"
import { generateKeyPairSync, type KeyObject } from "node:crypto"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { delimiter, join } from "node:path"

/** A temporary directory that is removed when the scope closes. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "relpub-verify-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** The absolute path of an executable on PATH, or undefined. */
export const which = (name: string): string | undefined =>
  (process.env.PATH ?? "").split(delimiter)
    .map((d) => join(d, name))
    .find((p) => existsSync(p))

/** Why a test that needs `bins` is skipped, or "" when they are all present. */
export const missing = (...bins: ReadonlyArray<string>): string => {
  const absent = bins.filter((b) => which(b) === undefined)
  return absent.length === 0 ? "" : ` (skipped: ${absent.join(", ")} not on PATH)`
}

/** Runs a program, failing the effect (as a defect) when it exits non-zero. */
export const run = (
  bin: string,
  args: ReadonlyArray<string>,
  options: ExecFileSyncOptions = {}
): Effect.Effect<Buffer> =>
  Effect.sync(() =>
    execFileSync(bin, args, { stdio: ["pipe", "pipe", "pipe"], ...options }) as Buffer
  )

/** Runs a program and reports whether it exited 0. */
export const succeeds = (bin: string, args: ReadonlyArray<string>): Effect.Effect<boolean> =>
  Effect.sync(() => {
    try {
      execFileSync(bin, args, { stdio: "pipe" })
      return true
    } catch {
      return false
    }
  })

export const write = (dir: string, name: string, content: string | Uint8Array): string => {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}

export interface KeyPair {
  readonly privateKey: KeyObject
  readonly publicKey: KeyObject
  readonly privatePem: string
  readonly publicPem: string
}

const pair = (kp: { privateKey: KeyObject; publicKey: KeyObject }): KeyPair => ({
  ...kp,
  privatePem: kp.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  publicPem: kp.publicKey.export({ type: "spki", format: "pem" }).toString()
})

export const ed25519 = (): KeyPair => pair(generateKeyPairSync("ed25519"))
export const p256 = (): KeyPair => pair(generateKeyPairSync("ec", { namedCurve: "P-256" }))
// RSA key generation is slow; 2048-bit keys come from a pool of three, used in
// turn, so that two calls in a row still give two different keys.
const rsaPool: Array<KeyPair> = []
let rsaNext = 0
export const rsa = (bits = 2048): KeyPair => {
  if (bits !== 2048) return pair(generateKeyPairSync("rsa", { modulusLength: bits }))
  const i = rsaNext++ % 3
  rsaPool[i] ??= pair(generateKeyPairSync("rsa", { modulusLength: 2048 }))
  return rsaPool[i]
}

export const bytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "utf8"))
