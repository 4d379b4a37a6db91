import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { join } from "node:path"
import { checkAgeFile, parseAgeHeader } from "../../src/verify/Age.ts"
import { ed25519, missing, rsa, run, tempDir, write } from "./helpers.ts"

// Writers for the age v1 header per C2SP age.md: unpadded base64, bodies wrapped at 64 columns.
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64").replace(/=+$/, "")
const wrap = (text: string): Array<string> => {
  const lines: Array<string> = []
  for (let i = 0; i + 64 <= text.length; i += 64) lines.push(text.slice(i, i + 64))
  lines.push(text.slice(lines.length * 64))
  return lines
}
const stanza = (type: string, args: ReadonlyArray<string>, body: Uint8Array) =>
  [`-> ${[type, ...args].join(" ")}`, ...wrap(b64(body))].join("\n") + "\n"
const x25519 = () => stanza("X25519", [b64(randomBytes(32))], randomBytes(32))
const ageFile = (stanzas: ReadonlyArray<string>, payload = randomBytes(16 + 16 + 100)) =>
  Buffer.concat([
    Buffer.from(`age-encryption.org/v1\n${stanzas.join("")}`, "latin1"),
    Buffer.from(`--- ${b64(randomBytes(32))}\n`, "latin1"),
    payload
  ])

// OpenSSH public key lines, built from node keys (RFC 4253 §6.6 wire format).
const sshString = (b: Uint8Array) => {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(b.length)
  return Buffer.concat([len, b])
}
const mpint = (b64url: string) => {
  const raw = Buffer.from(b64url, "base64url")
  return sshString(raw[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), raw]) : raw)
}
const sshEd25519 = () => {
  const pub = ed25519().publicKey.export({ format: "der", type: "spki" }).subarray(-32)
  const blob = Buffer.concat([sshString(Buffer.from("ssh-ed25519")), sshString(pub)])
  return `ssh-ed25519 ${blob.toString("base64")} test\n`
}
const sshRsa = () => {
  const jwk = rsa().publicKey.export({ format: "jwk" })
  const blob = Buffer.concat([sshString(Buffer.from("ssh-rsa")), mpint(jwk.e!), mpint(jwk.n!)])
  return `ssh-rsa ${blob.toString("base64")} test\n`
}

const types = (bytes: Uint8Array) => Effect.map(parseAgeHeader(bytes), (h) => h.recipientTypes)
const reasonOf = (bytes: Uint8Array) => Effect.map(checkAgeFile("f.age", bytes), (f) => f.reason)

describe("Age", () => {
  describe("#parseAgeHeader", () => {
    describe("when the header is written per the spec", () => {
      it.effect("returns the recipient types of every stanza", () =>
        Effect.gen(function*() {
          const file = ageFile([
            x25519(),
            stanza("ssh-ed25519", [b64(randomBytes(4)), b64(randomBytes(32))], randomBytes(32)),
            stanza("piv-p256", [b64(randomBytes(4)), b64(randomBytes(33))], randomBytes(48)),
            stanza("example.com/grease", ["x", "$^&"], randomBytes(100))
          ])
          assert.deepStrictEqual(yield* types(file),
            ["X25519", "ssh-ed25519", "piv-p256", "example.com/grease"])
        }))

      it.effect("accepts a lone scrypt stanza and an empty body", () =>
        Effect.gen(function*() {
          const scrypt = stanza("scrypt", [b64(randomBytes(16)), "18"], randomBytes(32))
          assert.deepStrictEqual(yield* types(ageFile([scrypt])), ["scrypt"])
          const empty = stanza("plugin-x", ["a"], new Uint8Array())
          assert.deepStrictEqual(yield* types(ageFile([empty])), ["plugin-x"])
        }))

      it.effect("reads the ASCII armor", () =>
        Effect.gen(function*() {
          const inner = ageFile([x25519()])
          const armored = "-----BEGIN AGE ENCRYPTED FILE-----\n" +
            wrap(inner.toString("base64")).filter((l) => l !== "").join("\n") +
            "\n-----END AGE ENCRYPTED FILE-----\n"
          const h = yield* parseAgeHeader(Buffer.from(armored))
          assert.isTrue(h.armored)
          assert.deepStrictEqual(h.recipientTypes, ["X25519"])
        }))
    })
  })

  describe("#checkAgeFile", () => {
    it.effect("returns valid naming the recipient types", () =>
      Effect.gen(function*() {
        const f = yield* checkAgeFile("f.age", ageFile([x25519(), x25519()]))
        assert.strictEqual(f.reason, "valid")
        assert.include(f.detail, "X25519, X25519")
      }))

    it.effect("fails with not-age for files of another kind", () =>
      Effect.gen(function*() {
        assert.strictEqual(yield* reasonOf(Buffer.from("hello world\n")), "not-age")
        assert.strictEqual(yield* reasonOf(randomBytes(200)), "not-age")
        assert.strictEqual(yield* reasonOf(new Uint8Array()), "not-age")
        assert.strictEqual(yield* reasonOf(Buffer.from("age-encryption.org/v2\n")), "not-age")
      }))

    const bad: ReadonlyArray<readonly [string, () => Uint8Array]> = [
      ["a body wrapped at 76 columns", () => {
        const body = b64(randomBytes(100))
        const head = `-> X25519 ${b64(randomBytes(32))}\n`
        return ageFile([`${head}${body.slice(0, 76)}\n${body.slice(76)}\n`])
      }],
      ["a padded body", () => {
        const padded = Buffer.from(randomBytes(32)).toString("base64")
        return ageFile([`-> X25519 ${b64(randomBytes(32))}\n${padded}\n`])
      }],
      ["a non-canonical body", () => {
        const body = b64(randomBytes(32)).slice(0, 42) + "B"
        return ageFile([`-> X25519 ${b64(randomBytes(32))}\n${body}\n`])
      }],
      ["an X25519 share of 31 bytes", () =>
        ageFile([stanza("X25519", [b64(randomBytes(31))], randomBytes(32))])],
      ["scrypt beside another stanza", () =>
        ageFile([stanza("scrypt", [b64(randomBytes(16)), "18"], randomBytes(32)), x25519()])],
      ["no MAC line", () => Buffer.from(`age-encryption.org/v1\n${x25519()}`)],
      ["no stanza", () => ageFile([])],
      ["an empty argument", () =>
        ageFile([stanza("X25519", ["", b64(randomBytes(32))], randomBytes(32))])],
      ["a truncated payload", () => ageFile([x25519()], randomBytes(20))],
      ["a broken armor", () => Buffer.from("-----BEGIN AGE ENCRYPTED FILE-----\n!!!\n")]
    ]
    for (const [what, make] of bad) {
      it.effect(`fails with malformed for ${what}`, () =>
        Effect.gen(function*() {
          assert.strictEqual(yield* reasonOf(make()), "malformed")
        }))
    }
  })

  describe("when the file was written by the age binary", () => {
    const skip = missing("age", "age-keygen")

    it.scoped.skipIf(skip)(`parses X25519, SSH and armored age output${skip}`, () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const plain = write(dir, "plain.txt", randomBytes(70_000))
        const identity = join(dir, "key.txt")
        yield* run("age-keygen", ["-o", identity])
        const recipient = (yield* run("age-keygen", ["-y", identity])).toString().trim()
        const ed = write(dir, "ed.pub", sshEd25519())
        const rs = write(dir, "rsa.pub", sshRsa())
        type Case = readonly [ReadonlyArray<string>, ReadonlyArray<string>, boolean]
        const cases: ReadonlyArray<Case> = [
          [["-r", recipient], ["X25519"], false],
          [["-a", "-r", recipient], ["X25519"], true],
          [["-R", ed], ["ssh-ed25519"], false],
          [["-R", rs], ["ssh-rsa"], false],
          [["-r", recipient, "-R", ed, "-R", rs], ["X25519", "ssh-ed25519", "ssh-rsa"], false]
        ]
        for (const [args, expected, armored] of cases) {
          const out = yield* run("age", [...args, plain])
          const h = yield* parseAgeHeader(out)
          assert.deepStrictEqual([...h.recipientTypes].sort(), [...expected].sort(), args.join(" "))
          assert.strictEqual(h.armored, armored)
        }
      }))
  })
})
