import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export interface FixtureFile {
  readonly path: string
  /** Content, or a size in bytes of random content. */
  readonly content: string | Uint8Array | number
}

export interface ReleaseFixture {
  readonly dir: string
  readonly files: ReadonlyArray<{ path: string; sha256: string; size: number }>
  readonly validationFile: string
  readonly verificationFile: string
  readonly root: string
  readonly cleanup: () => void
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")

/** A fresh temporary directory, removed by the returned cleanup. */
export const tempDir = (prefix = "relpub-test-"): { dir: string; cleanup: () => void } => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) }
}

/**
 * Write a release directory with `files`, a manifest.json (unless
 * `manifest: false`), a SHA256SUMS (with `sums: true`), and passing
 * verification and validation result files beside it.
 */
export const makeRelease = (options: {
  readonly files?: ReadonlyArray<FixtureFile>
  readonly version?: string
  readonly manifest?: boolean
  readonly sums?: boolean
} = {}): ReleaseFixture => {
  const { dir: root, cleanup } = tempDir()
  const dir = path.join(root, "release")
  fs.mkdirSync(dir)
  const files = (options.files ?? [
    { path: "app.tar.gz", content: 4096 },
    { path: "docs/README.md", content: "read me\n" },
    { path: "sbom.cdx.json", content: JSON.stringify({ bomFormat: "CycloneDX", specVersion: "1.5", serialNumber: "urn:uuid:00000000-0000-4000-8000-000000000001", version: 1 }) },
    { path: "app.intoto.json", content: JSON.stringify({ _type: "https://in-toto.io/Statement/v1", subject: [], predicateType: "https://slsa.dev/provenance/v1", predicate: { runDetails: { builder: { id: "https://example.com/b" }, metadata: { invocationId: "build-1" } } } }) }
  ]).map((f) => {
    const bytes = typeof f.content === "number" ? randomBytes(f.content)
      : typeof f.content === "string" ? Buffer.from(f.content) : Buffer.from(f.content)
    const target = path.join(dir, f.path)
    fs.mkdirSync(path.dirname(target), { recursive: true })
    fs.writeFileSync(target, bytes)
    return { path: f.path, sha256: sha256(bytes), size: bytes.length }
  })
  if (options.manifest !== false) {
    const body: Record<string, unknown> = { schema: "relpub/manifest/v1", files }
    if (options.version !== undefined) body["version"] = options.version
    fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(body, null, 2))
  }
  if (options.sums === true) {
    fs.writeFileSync(path.join(dir, "SHA256SUMS"), files.map((f) => `${f.sha256}  ${f.path}\n`).join(""))
  }
  const validationFile = path.join(root, "validation.json")
  const verificationFile = path.join(root, "verification.json")
  fs.writeFileSync(validationFile, JSON.stringify({ passed: true, timestamp: "2026-01-01T00:00:00Z" }))
  fs.writeFileSync(verificationFile, JSON.stringify({ passed: true, hash_verified: true }))
  return { dir, files, validationFile, verificationFile, root, cleanup }
}

/** Every file under `dir` with its bytes' SHA-256: a snapshot to compare before and after. */
export const snapshotTree = (dir: string): Record<string, string> => {
  const out: Record<string, string> = {}
  if (!fs.existsSync(dir)) return out
  const walk = (d: string, rel: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel === "" ? entry.name : `${rel}/${entry.name}`
      const abs = path.join(d, entry.name)
      if (entry.isDirectory()) {
        out[`${r}/`] = "dir"
        walk(abs, r)
      } else out[r] = sha256(fs.readFileSync(abs))
    }
  }
  walk(dir, "")
  return out
}

/** A small valid CycloneDX 1.6 SBOM, for releases that need one. */
export const CYCLONEDX_SBOM = {
  bomFormat: "CycloneDX",
  specVersion: "1.6",
  serialNumber: "urn:uuid:5b7a0d35-4d3b-4c2a-9d7e-2f0c1e8a9b10",
  version: 1,
  components: [{ type: "library", name: "zlib", version: "1.3.1" }]
}

/** Write `content` to `file`, creating its parent directories. */
export const putFile = (file: string, content: string | Uint8Array): void => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, content)
}
