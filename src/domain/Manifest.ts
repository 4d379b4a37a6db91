import { Either, ParseResult, Schema } from "effect"
import { collisions, comparePaths, describePathProblem, pathProblem } from "./ArtifactPath.ts"

/** Lower-case hex SHA-256. */
export const Sha256Hex = Schema.String.pipe(
  Schema.pattern(/^[0-9a-f]{64}$/, { message: () => "must be 64 lower-case hex digits" })
)

/**
 * One file of a release manifest. `size` is in bytes.
 *
 * @category models
 */
export const ManifestFile = Schema.Struct({
  path: Schema.String,
  sha256: Sha256Hex,
  size: Schema.Int.pipe(Schema.nonNegative())
})
export type ManifestFile = typeof ManifestFile.Type

/**
 * `manifest.json`: the list of artifacts a release consists of. Unknown fields
 * are allowed, so producers can add their own.
 *
 * @category models
 */
export const ManifestJson = Schema.Struct({
  schema: Schema.optional(Schema.Literal("relpub/manifest/v1")),
  version: Schema.optional(Schema.String),
  files: Schema.Array(ManifestFile)
})
export type ManifestJson = typeof ManifestJson.Type

/** A manifest entry whatever its source; SHA256SUMS carries no sizes. */
export interface ManifestEntry {
  readonly path: string
  readonly sha256: string
  readonly size: number | undefined
}

export interface Manifest {
  readonly source: "manifest.json" | "SHA256SUMS"
  readonly version: string | undefined
  readonly entries: ReadonlyArray<ManifestEntry>
}

/** A problem with a manifest's content, tied to the line or entry it came from. */
export interface ManifestProblem {
  readonly where: string
  readonly message: string
}

export const MANIFEST_JSON = "manifest.json"
export const SHA256SUMS = "SHA256SUMS"

const checkEntries = (
  source: Manifest["source"],
  entries: ReadonlyArray<ManifestEntry & { readonly where: string }>
): ReadonlyArray<ManifestProblem> => {
  const problems: Array<ManifestProblem> = []
  const seen = new Set<string>()
  for (const entry of entries) {
    const problem = pathProblem(entry.path)
    if (problem !== undefined) {
      problems.push({
        where: entry.where,
        message: `${JSON.stringify(entry.path)}: ${describePathProblem(problem)}`
      })
    }
    if (seen.has(entry.path)) {
      problems.push({
        where: entry.where,
        message: `${JSON.stringify(entry.path)} is listed twice`
      })
    }
    seen.add(entry.path)
    if (entry.path === source) {
      problems.push({ where: entry.where, message: `${source} cannot list itself` })
    }
  }
  for (const group of collisions(seen)) {
    problems.push({
      where: source,
      message:
        `paths collide after Unicode normalisation or case folding: ` +
        `${group.map((p) => JSON.stringify(p)).join(", ")}`
    })
  }
  return problems
}

const formatParseError = (error: ParseResult.ParseError) =>
  ParseResult.TreeFormatter.formatErrorSync(error)

/** Parse and check `manifest.json` text. */
export const parseManifestJson = (
  text: string
): Either.Either<Manifest, ReadonlyArray<ManifestProblem>> => {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (e) {
    return Either.left([
      { where: MANIFEST_JSON, message: `not valid JSON: ${(e as Error).message}` }
    ])
  }
  const decoded = Schema.decodeUnknownEither(ManifestJson)(raw, { onExcessProperty: "ignore" })
  if (Either.isLeft(decoded)) {
    return Either.left([{ where: MANIFEST_JSON, message: formatParseError(decoded.left) }])
  }
  const entries = decoded.right.files.map((f, i) => ({
    ...f,
    where: `${MANIFEST_JSON} files[${i}]`
  }))
  const problems = checkEntries("manifest.json", entries)
  if (problems.length > 0) return Either.left(problems)
  return Either.right({
    source: "manifest.json",
    version: decoded.right.version,
    entries: entries.map(({ path, sha256, size }) => ({ path, sha256, size }))
  })
}

const SUM_LINE = /^([0-9a-fA-F]{64}) ([ *])(.+)$/

/** Parse a coreutils `sha256sum` listing (text or binary mode markers). */
export const parseSha256Sums = (
  text: string
): Either.Either<Manifest, ReadonlyArray<ManifestProblem>> => {
  const problems: Array<ManifestProblem> = []
  const entries: Array<ManifestEntry & { where: string }> = []
  const lines = text.split("\n")
  if (lines[lines.length - 1] === "") lines.pop()
  lines.forEach((line, i) => {
    const where = `${SHA256SUMS} line ${i + 1}`
    const clean = line.endsWith("\r") ? line.slice(0, -1) : line
    if (clean.trim() === "") return
    if (clean.startsWith("\\")) {
      problems.push({
        where,
        message: "escaped file names (backslash or newline in the name) are refused"
      })
      return
    }
    const match = SUM_LINE.exec(clean)
    if (match === null) {
      problems.push({ where, message: "expected '<64 hex digits>  <path>'" })
      return
    }
    entries.push({ path: match[3]!, sha256: match[1]!.toLowerCase(), size: undefined, where })
  })
  if (entries.length === 0 && problems.length === 0) {
    problems.push({ where: SHA256SUMS, message: "lists no files" })
  }
  problems.push(...checkEntries("SHA256SUMS", entries))
  if (problems.length > 0) return Either.left(problems)
  return Either.right({
    source: "SHA256SUMS",
    version: undefined,
    entries: entries.map(({ path, sha256, size }) => ({ path, sha256, size }))
  })
}

/** Render files in `sha256sum` format, sorted byte-wise by path. */
export const formatSha256Sums = (
  files: ReadonlyArray<{ readonly path: string; readonly sha256: string }>
): string =>
  [...files]
    .sort((a, b) => comparePaths(a.path, b.path))
    .map((f) => `${f.sha256}  ${f.path}\n`)
    .join("")

/** Render `manifest.json` for the given files (sorted, stable). */
export const formatManifestJson = (
  files: ReadonlyArray<ManifestFile>,
  version?: string
): string => {
  const sorted = [...files].sort((a, b) => comparePaths(a.path, b.path))
  const body =
    version === undefined
      ? { schema: "relpub/manifest/v1", files: sorted }
      : { schema: "relpub/manifest/v1", version, files: sorted }
  return JSON.stringify(body, null, 2) + "\n"
}
