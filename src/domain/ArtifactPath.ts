/**
 * Artifact paths as they appear in a manifest and in the repository: relative,
 * `/`-separated, and unable to name anything outside the release.
 *
 * @category models
 */

/** Why a path is refused; a closed vocabulary that tests assert on. */
export type PathProblem =
  | "empty"
  | "absolute"
  | "drive-letter"
  | "backslash"
  | "nul"
  | "control-character"
  | "dot-segment"
  | "empty-segment"
  | "too-long"
  | "reserved"

const MAX_PATH_BYTES = 1024
const MAX_SEGMENT_BYTES = 255
const RESERVED_TOP_LEVEL = new Set(["release.json", "release.json.sig"])

const byteLength = (s: string) => new TextEncoder().encode(s).length

/** The first problem with `path`, or undefined when it is a safe relative path. */
export const pathProblem = (path: string): PathProblem | undefined => {
  if (path.length === 0) return "empty"
  if (path.includes("\0")) return "nul"
  if (path.includes("\\")) return "backslash"
  if (path.startsWith("/")) return "absolute"
  if (/^[A-Za-z]:/.test(path)) return "drive-letter"
  // eslint-disable-next-line no-control-regex
  if (/[\u0001-\u001f\u007f]/.test(path)) return "control-character"
  if (byteLength(path) > MAX_PATH_BYTES) return "too-long"
  const segments = path.split("/")
  for (const segment of segments) {
    if (segment === "") return "empty-segment"
    if (segment === "." || segment === "..") return "dot-segment"
    if (byteLength(segment) > MAX_SEGMENT_BYTES) return "too-long"
  }
  if (RESERVED_TOP_LEVEL.has(collisionKey(path))) return "reserved"
  return undefined
}

export const describePathProblem = (problem: PathProblem): string => {
  switch (problem) {
    case "empty":
      return "path is empty"
    case "absolute":
      return "path is absolute"
    case "drive-letter":
      return "path starts with a drive letter"
    case "backslash":
      return "path contains a backslash"
    case "nul":
      return "path contains a NUL byte"
    case "control-character":
      return "path contains a control character"
    case "dot-segment":
      return "path contains a '.' or '..' segment"
    case "empty-segment":
      return "path contains an empty segment ('//' or a trailing '/')"
    case "too-long":
      return (
        `path is longer than ${MAX_PATH_BYTES} bytes or has a segment over ` +
        `${MAX_SEGMENT_BYTES}`
      )
    case "reserved":
      return "path is reserved for relpub's release record"
  }
}

/** The key under which two paths collide on a case-insensitive or normalising file system. */
export const collisionKey = (path: string): string =>
  // toLowerCase applies the final-sigma rule and keeps the long s; case folding does neither.
  path.normalize("NFC").toLowerCase().replace(/ς/g, "σ").replace(/ſ/g, "s")

/**
 * Groups of paths that are distinct strings but name the same file after
 * Unicode normalisation or case folding.
 */
export const collisions = (paths: Iterable<string>): ReadonlyArray<ReadonlyArray<string>> => {
  const groups = new Map<string, Array<string>>()
  for (const path of paths) {
    const key = collisionKey(path)
    const group = groups.get(key)
    if (group === undefined) groups.set(key, [path])
    else if (!group.includes(path)) group.push(path)
  }
  return [...groups.values()].filter((group) => group.length > 1)
}

/** Byte-wise ordering of paths (the order of `LC_ALL=C sort`). */
export const comparePaths = (a: string, b: string): number => {
  const ea = Buffer.from(a, "utf8")
  const eb = Buffer.from(b, "utf8")
  return Buffer.compare(ea, eb)
}
