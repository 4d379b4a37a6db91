import { Effect } from "effect"
import { type Finding, FormatError, fromFormatError, valid } from "./Finding.ts"

// The age v1 file format (C2SP age.md, "Header"):
//   header   = "age-encryption.org/v1" LF 1*stanza "--- " 43base64char LF
//   stanza   = "-> " argument *(SP argument) LF *(64base64char LF) (0-63)base64char LF
//   argument = 1*VCHAR
// base64 is standard, unpadded and canonical. The binary payload follows: a
// 16-byte nonce and at least one 16-byte-tagged STREAM chunk. The ASCII armor
// is PEM-like with the label "AGE ENCRYPTED FILE".

const VERSION_LINE = "age-encryption.org/v1"
const ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----"
const ARMOR_END = "-----END AGE ENCRYPTED FILE-----"
const MIN_PAYLOAD = 16 + 16

/** @category models */
export interface AgeStanza {
  readonly type: string
  readonly args: ReadonlyArray<string>
  readonly body: Uint8Array
}

/** @category models */
export interface AgeHeader {
  readonly armored: boolean
  readonly stanzas: ReadonlyArray<AgeStanza>
  /** The recipient type of each stanza, in order (e.g. "X25519", "scrypt"). */
  readonly recipientTypes: ReadonlyArray<string>
  readonly payloadLength: number
}

const malformed = (detail: string) =>
  new FormatError({ format: "age", reason: "malformed", detail })

const B64 = /^[A-Za-z0-9+/]*$/

// Canonical unpadded base64, or undefined.
const decodeB64 = (text: string): Uint8Array | undefined => {
  if (!B64.test(text) || text.length % 4 === 1) return undefined
  const bytes = Buffer.from(text, "base64")
  return bytes.toString("base64").replace(/=+$/, "") === text ? new Uint8Array(bytes) : undefined
}

// The argument shapes of the recipient types defined by the age spec and age's SSH recipients.
const checkStanza = (s: AgeStanza, count: number): string | undefined => {
  const sized = (arg: string | undefined, n: number) =>
    arg !== undefined && decodeB64(arg)?.length === n
  switch (s.type) {
    case "X25519":
      return s.args.length === 1 && sized(s.args[0], 32) && s.body.length === 32
        ? undefined
        : "X25519 stanza needs a 32-byte share and a 32-byte body"
    case "scrypt":
      if (count !== 1) return "an scrypt stanza must be the only stanza"
      return s.args.length === 2 &&
        sized(s.args[0], 16) &&
        /^[1-9][0-9]?$/.test(s.args[1]!) &&
        s.body.length === 32
        ? undefined
        : "scrypt stanza needs a 16-byte salt, a work factor and a 32-byte body"
    case "ssh-ed25519":
      return s.args.length === 2 &&
        sized(s.args[0], 4) &&
        sized(s.args[1], 32) &&
        s.body.length === 32
        ? undefined
        : "ssh-ed25519 stanza needs a 4-byte tag, a 32-byte share and a 32-byte body"
    case "ssh-rsa":
      return s.args.length === 1 && sized(s.args[0], 4) && s.body.length >= 256
        ? undefined
        : "ssh-rsa stanza needs a 4-byte tag and an RSA-OAEP body"
    default:
      return undefined
  }
}

const dearmor = (text: string): Uint8Array | undefined => {
  const lines = text.trim().split(/\r?\n/)
  if (lines[0] !== ARMOR_BEGIN || lines[lines.length - 1] !== ARMOR_END) return undefined
  const body = lines.slice(1, -1)
  const wellWrapped = body.every((l, i) => (i < body.length - 1 ? l.length === 64 : l.length <= 64))
  const joined = body.join("")
  const padded = /^[A-Za-z0-9+/]*={0,2}$/.test(joined) && joined.length % 4 === 0
  if (!wellWrapped || !padded) return undefined
  return new Uint8Array(Buffer.from(joined, "base64"))
}

/**
 * Parses the header of an age file (binary or armored) without any key.
 *
 * @category constructors
 */
export const parseAgeHeader = (input: Uint8Array): Effect.Effect<AgeHeader, FormatError> =>
  Effect.gen(function* () {
    const head = input.subarray(0, ARMOR_BEGIN.length + 2)
    const start = Buffer.from(head).toString("latin1").trimStart()
    const armored = start.startsWith(ARMOR_BEGIN)
    const bytes = armored ? dearmor(Buffer.from(input).toString("latin1")) : input
    if (bytes === undefined) return yield* malformed("bad ASCII armor")
    let pos = 0
    const nextLine = (): string | undefined => {
      const end = bytes.indexOf(0x0a, pos)
      if (end < 0) return undefined
      const line = Buffer.from(bytes.subarray(pos, end)).toString("latin1")
      pos = end + 1
      return /^[\x20-\x7e]*$/.test(line) ? line : undefined
    }

    if (nextLine() !== VERSION_LINE) {
      const detail = `no ${VERSION_LINE} line`
      return yield* new FormatError({ format: "age", reason: "not-age", detail })
    }
    const stanzas: Array<AgeStanza> = []
    let line = nextLine()
    while (line !== undefined && line.startsWith("-> ")) {
      const args = line.slice(3).split(" ")
      if (args.some((a) => a === "")) {
        return yield* malformed(`bad stanza line ${JSON.stringify(line)}`)
      }
      const chunks: Array<string> = []
      let body = nextLine()
      while (body !== undefined && body.length === 64) {
        chunks.push(body)
        body = nextLine()
      }
      if (body === undefined || body.length > 64) {
        return yield* malformed("unterminated stanza body")
      }
      const decoded = decodeB64(chunks.join("") + body)
      if (decoded === undefined) {
        return yield* malformed(`stanza ${args[0]} body is not canonical base64`)
      }
      stanzas.push({ type: args[0]!, args: args.slice(1), body: decoded })
      line = nextLine()
    }
    if (stanzas.length === 0) return yield* malformed("no recipient stanza")
    if (line === undefined || !line.startsWith("--- ") || decodeB64(line.slice(4))?.length !== 32) {
      return yield* malformed("missing or bad header MAC line")
    }
    for (const s of stanzas) {
      const problem = checkStanza(s, stanzas.length)
      if (problem !== undefined) return yield* malformed(problem)
    }
    const payloadLength = bytes.length - pos
    if (payloadLength < MIN_PAYLOAD) {
      return yield* malformed(`payload of ${payloadLength} bytes is too short`)
    }
    return { armored, stanzas, recipientTypes: stanzas.map((s) => s.type), payloadLength }
  })

/**
 * Checks that a file is age-encrypted (age-encryption.org/v1) and names its
 * recipient types. Nothing is decrypted.
 *
 * @category verifiers
 */
export const checkAgeFile = (file: string, bytes: Uint8Array): Effect.Effect<Finding> =>
  parseAgeHeader(bytes).pipe(
    Effect.map((h) =>
      valid(
        file,
        "encryption",
        `${file}: age-encrypted${h.armored ? " (armored)" : ""} for ${h.recipientTypes.join(", ")}`
      )
    ),
    Effect.catchTag("FormatError", (e) => Effect.succeed(fromFormatError(file, "encryption", e)))
  )
