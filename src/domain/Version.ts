import { Order, ParseResult, Schema } from "effect"
import semver from "semver"

const MAX_LENGTH = 128

/**
 * A release version: a semantic version, optionally with a leading `v`, kept
 * exactly as the user wrote it (it names directories and objects).
 *
 * @category models
 */
export const Version = Schema.String.pipe(
  Schema.filter((s) => {
    if (s.length === 0 || s.length > MAX_LENGTH) return `must be 1 to ${MAX_LENGTH} characters`
    const bare = s.startsWith("v") ? s.slice(1) : s
    // semver.valid also accepts "=1.2.3" and surrounding spaces; we want the strict form only.
    if (semver.valid(bare) !== bare) return `"${s}" is not a semantic version (e.g. 1.4.0 or v1.4.0-rc.1)`
    return true
  }),
  Schema.brand("Version")
)
export type Version = typeof Version.Type

/** Decode a version; the error explains what is wrong with it. */
export const parseVersion = Schema.decodeUnknownEither(Version)

/** Human message for a failed version parse. */
export const versionError = (error: ParseResult.ParseError): string =>
  ParseResult.TreeFormatter.formatErrorSync(error)

const bare = (v: string) => (v.startsWith("v") ? v.slice(1) : v)

/** Semantic-version precedence; build metadata breaks ties by text so the order is total. */
export const compareVersions = (a: string, b: string): -1 | 0 | 1 => {
  const c = semver.compare(bare(a), bare(b))
  if (c !== 0) return c
  return a < b ? -1 : a > b ? 1 : 0
}

export const VersionOrder: Order.Order<string> = (a, b) => compareVersions(a, b)

/** The version without its leading `v`: `v1.2.0` and `1.2.0` name the same release. */
export const canonicalVersion = (v: string): string => bare(v)

/** Both spellings under which a version may already be published. */
export const versionSpellings = (v: string): ReadonlyArray<string> => [bare(v), `v${bare(v)}`]
