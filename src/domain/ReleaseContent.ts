/**
 * How relpub recognises the parts of a release by file name: signatures, SBOMs,
 * provenance and encrypted artifacts.
 *
 * @category models
 */
import { MANIFEST_JSON, SHA256SUMS } from "./Manifest.ts"

export const SIGNATURE_SUFFIXES = [
  ".sig",
  ".asc",
  ".minisig",
  ".sigstore.json",
  ".sigstore"
] as const

const lower = (path: string) => path.toLowerCase()
const base = (path: string) => path.slice(path.lastIndexOf("/") + 1).toLowerCase()

export const isSignatureFile = (path: string): boolean =>
  SIGNATURE_SUFFIXES.some((suffix) => lower(path).endsWith(suffix))

/** The file a detached signature covers (`a.tar.gz.sig` covers `a.tar.gz`). */
export const signedSubject = (path: string): string | undefined => {
  const suffix = SIGNATURE_SUFFIXES.find((s) => lower(path).endsWith(s))
  return suffix === undefined ? undefined : path.slice(0, path.length - suffix.length)
}

export const isSbomFile = (path: string): boolean => {
  const name = base(path)
  return (
    name.endsWith(".cdx.json") ||
    name.endsWith(".spdx.json") ||
    name === "bom.json" ||
    (name.startsWith("sbom") && name.endsWith(".json"))
  )
}

export const isProvenanceFile = (path: string): boolean => {
  const name = base(path)
  return (
    name.endsWith(".intoto.jsonl") ||
    name.endsWith(".intoto.json") ||
    name.endsWith(".slsa.json") ||
    (name.includes("provenance") && /\.jsonl?$/.test(name))
  )
}

export const isEncryptedFile = (path: string): boolean => lower(path).endsWith(".enc")

/** Manifest files, and signatures over them, need not list themselves. */
export const isManifestMetadata = (path: string): boolean => {
  if (path === MANIFEST_JSON || path === SHA256SUMS) return true
  const subject = signedSubject(path)
  return subject === MANIFEST_JSON || subject === SHA256SUMS
}
