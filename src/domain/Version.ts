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
    // semver.parse tolerates "=1.2.3", "v" and spaces; only the canonical text, build metadata
    // included, passes.
    const parsed = semver.parse(bare)
    const canonical =
      parsed === null
        ? undefined
        : parsed.build.length === 0
          ? parsed.version
          : `${parsed.version}+${parsed.build.join(".")}`
    if (canonical !== bare) return `"${s}" is not a semantic version (e.g. 1.4.0 or v1.4.0-rc.1)`
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

const sign = (n: number | bigint): -1 | 0 | 1 => (n < 0 ? -1 : n > 0 ? 1 : 0)

// SemVer 2.0.0 section 11.4: numeric identifiers compare as integers (of any
// size, hence BigInt), numeric below alphanumeric, then the longer list wins.
const comparePrerelease = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): -1 | 0 | 1 => {
  if (a.length === 0 || b.length === 0) return sign(b.length - a.length)
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!
    const y = b[i]!
    const nx = /^\d+$/.test(x)
    const ny = /^\d+$/.test(y)
    const c = nx && ny ? sign(BigInt(x) - BigInt(y)) : nx ? -1 : ny ? 1 : x < y ? -1 : x > y ? 1 : 0
    if (c !== 0) return c
  }
  return sign(a.length - b.length)
}

const parts = (v: string) => {
  const text = bare(v).split("+")[0]!
  const dash = text.indexOf("-")
  const core = (dash < 0 ? text : text.slice(0, dash)).split(".").map((n) => BigInt(n))
  return { core, pre: dash < 0 ? [] : text.slice(dash + 1).split(".") }
}

/** Semantic-version precedence; build metadata breaks ties by text so the order is total. */
export const compareVersions = (a: string, b: string): -1 | 0 | 1 => {
  const pa = parts(a)
  const pb = parts(b)
  for (let i = 0; i < 3; i++) {
    const c = sign(pa.core[i]! - pb.core[i]!)
    if (c !== 0) return c
  }
  const c = comparePrerelease(pa.pre, pb.pre)
  if (c !== 0) return c
  return a < b ? -1 : a > b ? 1 : 0
}

export const VersionOrder: Order.Order<string> = (a, b) => compareVersions(a, b)

/** The version without its leading `v`: `v1.2.0` and `1.2.0` name the same release. */
export const canonicalVersion = (v: string): string => bare(v)

/** Both spellings under which a version may already be published. */
export const versionSpellings = (v: string): ReadonlyArray<string> => [bare(v), `v${bare(v)}`]
