import { assert, describe, it } from "@effect/vitest"
import { Either, FastCheck as fc, Schema } from "effect"
import { collisionKey, comparePaths, pathProblem } from "../../src/domain/ArtifactPath.ts"
import {
  formatManifestJson,
  formatSha256Sums,
  type Manifest,
  MANIFEST_JSON,
  ManifestFile,
  type ManifestProblem,
  parseManifestJson,
  parseSha256Sums,
  Sha256Hex,
  SHA256SUMS
} from "../../src/domain/Manifest.ts"

const H1 = "a".repeat(64)
const H2 = "0123456789abcdef".repeat(4)

const hex = fc.uint8Array({ minLength: 32, maxLength: 32 })
  .map((b) => Buffer.from(b).toString("hex"))
const SEGMENT_CHARS = [..."abcXYZ019-_. ~é😀ü+=@#$%&()[]{}'!,;", "e\u0301", "\u00a0", "\u202e"]
const segment = fc.array(fc.constantFrom(...SEGMENT_CHARS), { minLength: 1, maxLength: 12 })
  .map((cs) => cs.join(""))
const safePath = fc.array(segment, { minLength: 1, maxLength: 4 })
  .map((ss) => ss.join("/"))
  .filter((p) => pathProblem(p) === undefined && p !== MANIFEST_JSON && p !== SHA256SUMS)
const safeFiles = fc.uniqueArray(
  fc.record({ path: safePath, sha256: hex, size: fc.nat({ max: Number.MAX_SAFE_INTEGER }) }),
  { minLength: 1, maxLength: 12, selector: (f) => collisionKey(f.path) }
)

const sorted = <A extends { readonly path: string }>(files: ReadonlyArray<A>) =>
  [...files].sort((a, b) => comparePaths(a.path, b.path))

const problemsOf = (result: Either.Either<Manifest, ReadonlyArray<ManifestProblem>>) =>
  Either.isLeft(result) ? result.left : assert.fail("expected the manifest to be refused")

const paths = (result: Either.Either<Manifest, ReadonlyArray<ManifestProblem>>) =>
  Either.map(result, (m) => m.entries.map((e) => e.path))

const json = (files: ReadonlyArray<unknown>, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ schema: "relpub/manifest/v1", ...extra, files })

describe("Manifest", () => {
  describe("#parseManifestJson", () => {
    describe("when the manifest is well formed", () => {
      it("returns its entries and version", () => {
        const files = [{ path: "a/b.tgz", sha256: H1, size: 3 }]
        const result = parseManifestJson(json(files, { version: "v1.0.0" }))
        assert.deepStrictEqual(result, Either.right({
          source: "manifest.json" as const,
          version: "v1.0.0",
          entries: [{ path: "a/b.tgz", sha256: H1, size: 3 }]
        }))
      })

      it("returns it with unknown fields ignored and no schema field", () => {
        const files = [{ path: "x", sha256: H1, size: 0, mode: 420 }]
        const result = parseManifestJson(JSON.stringify({ producer: "ci", files }))
        assert.deepStrictEqual(
          Either.map(result, (m) => m.entries),
          Either.right([{ path: "x", sha256: H1, size: 0 }])
        )
      })

      it("returns an empty file list", () => {
        assert.isTrue(Either.isRight(parseManifestJson(json([]))))
      })
    })

    describe("when the text is not JSON", () => {
      it("fails with a problem on manifest.json", () => {
        for (const text of ["", "{", "files: []", "{\"files\": [}", "\u0000"]) {
          const problems = problemsOf(parseManifestJson(text))
          assert.deepStrictEqual(problems.map((p) => p.where), [MANIFEST_JSON])
        }
      })
    })

    describe("when the JSON has the wrong shape", () => {
      const cases: ReadonlyArray<readonly [string, unknown]> = [
        ["an array", []],
        ["null", null],
        ["no files", { schema: "relpub/manifest/v1" }],
        ["an unknown schema", { schema: "relpub/manifest/v2", files: [] }],
        ["an upper-case hash", { files: [{ path: "a", sha256: H1.toUpperCase(), size: 1 }] }],
        ["a short hash", { files: [{ path: "a", sha256: "abc", size: 1 }] }],
        ["a negative size", { files: [{ path: "a", sha256: H1, size: -1 }] }],
        ["a fractional size", { files: [{ path: "a", sha256: H1, size: 1.5 }] }],
        ["a string size", { files: [{ path: "a", sha256: H1, size: "1" }] }],
        ["a missing path", { files: [{ sha256: H1, size: 1 }] }],
        ["a numeric version", { version: 1, files: [] }]
      ]
      for (const [name, value] of cases) {
        it(`fails for ${name}`, () => {
          const problems = problemsOf(parseManifestJson(JSON.stringify(value)))
          assert.deepStrictEqual(problems.map((p) => p.where), [MANIFEST_JSON])
        })
      }
    })

    describe("when an entry has a hostile path", () => {
      it("fails with a problem on that entry", () => {
        for (const path of ["../x", "/etc/passwd", "a\\b", "C:/x", "a//b", "release.json", ""]) {
          const text = json([{ path: "ok", sha256: H1, size: 1 }, { path, sha256: H1, size: 1 }])
          const problems = problemsOf(parseManifestJson(text))
          assert.deepStrictEqual(problems.map((p) => p.where), ["manifest.json files[1]"], path)
        }
      })
    })

    describe("when the manifest lists itself", () => {
      it("fails with a problem on that entry", () => {
        const text = json([{ path: MANIFEST_JSON, sha256: H1, size: 1 }])
        const problems = problemsOf(parseManifestJson(text))
        assert.deepStrictEqual(problems.map((p) => p.where), ["manifest.json files[0]"])
      })
    })

    describe("when it lists SHA256SUMS", () => {
      it("returns the entry", () => {
        const text = json([{ path: SHA256SUMS, sha256: H1, size: 1 }])
        assert.isTrue(Either.isRight(parseManifestJson(text)))
      })
    })

    describe("when a path is listed twice", () => {
      const args = { fs: safeFiles, i: fc.nat(), sha: hex }
      it.prop("fails with a problem on the second entry", args, ({ fs, i, sha }) => {
        const dup = fs[i % fs.length]!
        const problems = problemsOf(parseManifestJson(json([...fs, { ...dup, sha256: sha }])))
        assert.deepStrictEqual(problems.map((p) => p.where), [`manifest.json files[${fs.length}]`])
      }, { fastCheck: { numRuns: 100 } })
    })

    describe("when two paths collide after normalisation or case folding", () => {
      it("fails with a problem on the manifest", () => {
        const pairs = [["caf\u00e9", "cafe\u0301"], ["README", "readme"], ["d/A.txt", "D/a.TXT"]]
        for (const [a, b] of pairs) {
          const text = json([{ path: a, sha256: H1, size: 1 }, { path: b, sha256: H2, size: 1 }])
          const problems = problemsOf(parseManifestJson(text))
          assert.deepStrictEqual(problems.map((p) => p.where), [MANIFEST_JSON], `${a} ${b}`)
        }
      })

      const args = { files: safeFiles, p: safePath, upper: fc.boolean() }
      it.prop("fails for generated case and NFD variants", args, ({ files, p, upper }) => {
        const original = `é${p}`.normalize("NFC")
        const variant = upper ? original.toUpperCase() : original.normalize("NFD")
        fc.pre(variant !== original && pathProblem(variant) === undefined)
        fc.pre(files.every((f) => collisionKey(f.path) !== collisionKey(original)))
        const text = json([
          ...files,
          { path: original, sha256: H1, size: 1 },
          { path: variant, sha256: H2, size: 1 }
        ])
        const problems = problemsOf(parseManifestJson(text))
        assert.deepStrictEqual(problems.map((x) => x.where), [MANIFEST_JSON])
      }, { fastCheck: { numRuns: 100 } })
    })

    it.prop("returns an Either for arbitrary text", [fc.oneof(
      fc.string({ unit: "binary", maxLength: 200 }),
      fc.json({ maxDepth: 4 }),
      fc.anything({ maxDepth: 3 }).map((u) => JSON.stringify({ files: u }) ?? ""),
      fc.array(fc.record({
        path: fc.string(),
        sha256: fc.oneof(hex, fc.string()),
        size: fc.double()
      })).map((files) => JSON.stringify({ files }))
    )], ([text]) => {
      assert.isTrue(Either.isEither(parseManifestJson(text)))
    }, { fastCheck: { numRuns: 200 } })
  })

  describe("#formatManifestJson", () => {
    describe("when formatting generated safe files", () => {
      const args = { files: safeFiles, v: fc.option(fc.string()) }
      it.prop("returns text that parses back to the same entries", args, ({ files, v }) => {
        const text = formatManifestJson(files, v ?? undefined)
        assert.isTrue(text.endsWith("}\n"))
        assert.deepStrictEqual(parseManifestJson(text), Either.right({
          source: "manifest.json" as const,
          version: v ?? undefined,
          entries: sorted(files)
        }))
      }, { fastCheck: { numRuns: 200 } })

      it.prop("returns the same text whatever the input order", [safeFiles], ([files]) => {
        assert.strictEqual(formatManifestJson([...files].reverse()), formatManifestJson(files))
      }, { fastCheck: { numRuns: 100 } })
    })

    describe("when no version is given", () => {
      it("returns JSON without a version field", () => {
        const value = JSON.parse(formatManifestJson([{ path: "a", sha256: H1, size: 1 }]))
        assert.deepStrictEqual(Object.keys(value), ["schema", "files"])
      })
    })
  })

  describe("#parseSha256Sums", () => {
    describe("when lines use text and binary markers", () => {
      it("returns the entries with lower-case hashes and no sizes", () => {
        const text = `${H1}  a.tgz\n${H2.toUpperCase()} *dir/b.bin\n`
        assert.deepStrictEqual(parseSha256Sums(text), Either.right({
          source: "SHA256SUMS" as const,
          version: undefined,
          entries: [
            { path: "a.tgz", sha256: H1, size: undefined },
            { path: "dir/b.bin", sha256: H2, size: undefined }
          ]
        }))
      })
    })

    describe("when lines end with CRLF, blank lines appear or the last newline is missing", () => {
      it("returns the entries", () => {
        const result = parseSha256Sums(`${H1}  a\r\n\r\n   \n${H2}  b`)
        assert.deepStrictEqual(paths(result), Either.right(["a", "b"]))
      })
    })

    describe("when a path begins with a space or a star", () => {
      it("returns the path with it", () => {
        const result = parseSha256Sums(`${H1}   lead\n${H2}  *star\n`)
        assert.deepStrictEqual(paths(result), Either.right([" lead", "*star"]))
      })
    })

    describe("when a line is malformed", () => {
      it("fails with a problem naming the line", () => {
        const G = "g".repeat(64)
        const lines = [`${H1} a`, `${H1}a`, `${H1.slice(1)}  a`, "a  b", `${H1}\tb`, `${G}  a`]
        for (const bad of lines) {
          const problems = problemsOf(parseSha256Sums(`${H2}  ok\n${bad}\n`))
          assert.deepStrictEqual(problems.map((p) => p.where), ["SHA256SUMS line 2"], bad)
        }
      })
    })

    describe("when a line carries an escaped name", () => {
      it("fails with a problem naming the line", () => {
        const problems = problemsOf(parseSha256Sums(`\\${H1}  a\\\\b\n`))
        assert.deepStrictEqual(problems.map((p) => p.where), ["SHA256SUMS line 1"])
      })
    })

    describe("when the listing is empty", () => {
      it("fails with a problem on SHA256SUMS", () => {
        for (const text of ["", "\n", "  \n\r\n"]) {
          const problems = problemsOf(parseSha256Sums(text))
          assert.deepStrictEqual(problems.map((p) => p.where), [SHA256SUMS])
        }
      })
    })

    describe("when a path is hostile, listed twice or lists the file itself", () => {
      it("fails with a problem on each offending line", () => {
        const text = [
          `${H1}  ../x`,
          `${H1}  a`,
          `${H2}  a`,
          `${H1}  SHA256SUMS`,
          `${H1}  manifest.json`
        ].join("\n")
        const problems = problemsOf(parseSha256Sums(text))
        assert.deepStrictEqual(problems.map((p) => p.where), [
          "SHA256SUMS line 1", "SHA256SUMS line 3", "SHA256SUMS line 4"
        ])
      })
    })

    describe("when two paths collide", () => {
      it("fails with a problem on SHA256SUMS", () => {
        const problems = problemsOf(parseSha256Sums(`${H1}  App.exe\n${H2}  app.EXE\n`))
        assert.deepStrictEqual(problems.map((p) => p.where), [SHA256SUMS])
      })
    })

    it.prop("returns an Either for arbitrary text", [fc.oneof(
      fc.string({ unit: "binary", maxLength: 300 }),
      fc.array(
        fc.tuple(fc.oneof(hex, fc.string()), fc.constantFrom(" ", "  ", " *", "\t"), fc.string()),
        { maxLength: 5 }
      ).map((ls) => ls.map(([h, sep, p]) => h + sep + p).join("\n"))
    )], ([text]) => {
      assert.isTrue(Either.isEither(parseSha256Sums(text)))
    }, { fastCheck: { numRuns: 200 } })
  })

  describe("#formatSha256Sums", () => {
    it.prop("returns text that parses back to the same entries", [safeFiles], ([files]) => {
      const text = formatSha256Sums(files)
      assert.strictEqual(text.split("\n").length, files.length + 1)
      assert.deepStrictEqual(parseSha256Sums(text), Either.right({
        source: "SHA256SUMS" as const,
        version: undefined,
        entries: sorted(files).map(({ path, sha256 }) => ({ path, sha256, size: undefined }))
      }))
    }, { fastCheck: { numRuns: 200 } })

    describe("when files are given out of order", () => {
      it("returns lines sorted byte-wise by path", () => {
        const text = formatSha256Sums([
          { path: "b", sha256: H1 },
          { path: "B", sha256: H2 },
          { path: "a", sha256: H1 }
        ])
        assert.strictEqual(text, `${H2}  B\n${H1}  a\n${H1}  b\n`)
      })
    })

    describe("when there are no files", () => {
      it("returns the empty string", () => {
        assert.strictEqual(formatSha256Sums([]), "")
      })
    })
  })

  describe("ManifestFile", () => {
    it("decodes a file entry and refuses a bad hash", () => {
      const decode = Schema.decodeUnknownEither(ManifestFile)
      assert.isTrue(Either.isRight(decode({ path: "a", sha256: H1, size: 0 })))
      assert.isTrue(Either.isLeft(decode({ path: "a", sha256: `${H1}0`, size: 0 })))
      assert.isTrue(Either.isLeft(Schema.decodeUnknownEither(Sha256Hex)(H1.replace("a", "A"))))
    })
  })
})
