import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as path from "node:path"
import {
  collisionKey,
  collisions,
  comparePaths,
  describePathProblem,
  type PathProblem,
  pathProblem
} from "../../src/domain/ArtifactPath.ts"

const PROBLEMS: ReadonlyArray<PathProblem> = [
  "empty", "absolute", "drive-letter", "backslash", "nul", "control-character", "dot-segment",
  "empty-segment", "too-long", "reserved"
]

// Pieces an attacker (or an unlucky build) might put in a manifest path.
const hostileSegment = fc.oneof(
  fc.constantFrom(
    "..", ".", "", "/", "\\", "C:", "c:", "\u0000", "\u0001", "\t", "\n", "\r", "\u001f",
    "\u007f", "~", " ", "...", ".. ", "%2e%2e", "\u2024\u2024", "\uff0e\uff0e", "é", "e\u0301",
    "😀", "\u202e",
    "release.json", "release.json.sig", "a", "b.txt", "dist", "x".repeat(256), "é".repeat(128)
  ),
  fc.string({ maxLength: 6 }),
  fc.string({ unit: "binary", maxLength: 4 })
)
const separator = fc.oneof(
  { arbitrary: fc.constant("/"), weight: 6 },
  fc.constantFrom("", "//", "\\")
)
const hostilePath = fc.array(
  fc.tuple(hostileSegment, separator),
  { minLength: 1, maxLength: 6 }
).map((parts) => parts.map(([s, sep], i) => (i === parts.length - 1 ? s : s + sep)).join(""))

describe("ArtifactPath", () => {
  describe("#pathProblem", () => {
    describe("when the path is a plain relative path", () => {
      it("returns undefined", () => {
        const plain = ["a", "app.tar.gz", "bin/x", "sbom.cdx.json", "é/😀", "a b/c", "...", "a/C:"]
        for (const p of plain) {
          assert.strictEqual(pathProblem(p), undefined, p)
        }
      })
    })

    describe("when the path is hostile", () => {
      const cases: ReadonlyArray<readonly [string, PathProblem]> = [
        ["", "empty"],
        ["/etc/passwd", "absolute"],
        ["/", "absolute"],
        ["C:/Windows", "drive-letter"],
        ["c:x", "drive-letter"],
        ["a\\b", "backslash"],
        ["..\\..\\x", "backslash"],
        ["a\u0000b", "nul"],
        ["a\nb", "control-character"],
        ["a\rb", "control-character"],
        ["a\u007fb", "control-character"],
        ["..", "dot-segment"],
        ["../x", "dot-segment"],
        ["a/../../x", "dot-segment"],
        ["./a", "dot-segment"],
        ["a/.", "dot-segment"],
        ["a//b", "empty-segment"],
        ["a/", "empty-segment"],
        ["x".repeat(256), "too-long"],
        [`a/${"é".repeat(128)}`, "too-long"],
        [Array.from({ length: 8 }, () => "y".repeat(200)).join("/"), "too-long"],
        ["release.json", "reserved"],
        ["release.json.sig", "reserved"]
      ]
      for (const [p, problem] of cases) {
        it(`returns ${problem} for ${JSON.stringify(p.slice(0, 24))}`, () => {
          assert.strictEqual(pathProblem(p), problem)
        })
      }
    })

    describe("when a segment is exactly 255 bytes", () => {
      it("returns undefined", () => {
        assert.strictEqual(pathProblem("x".repeat(255)), undefined)
        assert.strictEqual(pathProblem(`d/${"x".repeat(255)}`), undefined)
      })
    })

    describe("when release.json appears below the top level", () => {
      it("returns undefined", () => {
        assert.strictEqual(pathProblem("docs/release.json"), undefined)
      })
    })

    describe("when the path is a case variant of the release record", () => {
      // Case-insensitive disks see these as release.json.
      it("returns reserved", () => {
        assert.strictEqual(pathProblem("RELEASE.JSON"), "reserved")
        assert.strictEqual(pathProblem("Release.json.SIG"), "reserved")
      })
    })

    describe("when paths are generated from hostile segments", () => {
      it.prop("returns undefined only for paths that stay inside", [hostilePath], ([p]) => {
        if (pathProblem(p) !== undefined) return
        const joined = path.posix.join("/base", p)
        assert.strictEqual(path.posix.normalize(joined), joined)
        assert.isTrue(joined.startsWith("/base/"), joined)
        assert.strictEqual(joined, `/base/${p}`)
        assert.notInclude(joined, "\\")
        assert.notInclude(joined, "\u0000")
        assert.isTrue(path.win32.resolve("C:\\base", p).startsWith("C:\\base\\"))
      }, { fastCheck: { numRuns: 300 } })

      it.prop("returns a problem from the closed vocabulary", [hostilePath], ([p]) => {
        const problem = pathProblem(p)
        assert.isTrue(problem === undefined || PROBLEMS.includes(problem))
      }, { fastCheck: { numRuns: 200 } })
    })
  })

  describe("#describePathProblem", () => {
    it("returns a distinct description for every problem", () => {
      const texts = PROBLEMS.map(describePathProblem)
      assert.strictEqual(new Set(texts).size, PROBLEMS.length)
      for (const t of texts) assert.isAbove(t.length, 0)
    })
  })

  describe("#collisionKey", () => {
    describe("when two spellings differ only in normalisation or case", () => {
      it("returns the same key", () => {
        assert.strictEqual(collisionKey("caf\u00e9"), collisionKey("cafe\u0301"))
        assert.strictEqual(collisionKey("README.md"), collisionKey("readme.MD"))
        assert.strictEqual(collisionKey("\u212a"), collisionKey("k"))
      })
    })
  })

  describe("#collisions", () => {
    describe("when no two paths collide", () => {
      it("returns no groups", () => {
        assert.deepStrictEqual(collisions(["a", "b", "a/b", "ab"]), [])
      })
    })

    describe("when the same string appears twice", () => {
      it("returns no groups", () => {
        assert.deepStrictEqual(collisions(["a", "a"]), [])
      })
    })

    describe("when paths differ only in NFC/NFD form or case", () => {
      it("returns each colliding group", () => {
        const nfc = "caf\u00e9.txt"
        const nfd = "cafe\u0301.txt"
        const groups = collisions([nfc, nfd, "Doc/A", "doc/a", "DOC/A", "x"])
        assert.deepStrictEqual(groups, [[nfc, nfd], ["Doc/A", "doc/a", "DOC/A"]])
      })
    })

    describe("when paths differ only in case of a final sigma", () => {
      // toLowerCase alone turns "ΑΣ" into "ας" (final sigma), not "ασ".
      it("returns them as a group", () => {
        assert.strictEqual(collisions(["\u0391\u03a3", "\u03b1\u03c3"]).length, 1)
      })
    })

    describe("when generated paths are case and normalisation variants", () => {
      const word = fc.array(fc.constantFrom("a", "B", "é", "e\u0301", "Ö", "o\u0308", "z", "-"), {
        minLength: 1,
        maxLength: 6
      }).map((cs) => cs.join(""))
      const variant = (s: string, upper: boolean, nfd: boolean) => {
        const cased = upper ? s.toUpperCase() : s.toLowerCase()
        return nfd ? cased.normalize("NFD") : cased.normalize("NFC")
      }
      const args = { w: word, up: fc.boolean(), nfd: fc.boolean() }
      it.prop("returns a group holding both spellings", args, ({ w, up, nfd }) => {
        const a = variant(w, up, nfd)
        const b = variant(w, !up, !nfd)
        const groups = collisions([a, b])
        if (a === b) assert.deepStrictEqual(groups, [])
        else assert.deepStrictEqual(groups, [[a, b]])
      }, { fastCheck: { numRuns: 200 } })
    })
  })

  describe("#comparePaths", () => {
    describe("when paths differ", () => {
      it("returns the order of their UTF-8 bytes", () => {
        assert.isBelow(comparePaths("Z", "a"), 0)
        assert.isBelow(comparePaths("a", "a/b"), 0)
        assert.isBelow(comparePaths("a/b", "a0"), 0)
        assert.isBelow(comparePaths("z", "é"), 0)
        // UTF-16 order would put the astral character first.
        assert.isBelow(comparePaths("\uffff", "😀"), 0)
      })
    })

    it.prop("returns an antisymmetric order that is zero only for equal strings", [
      fc.string({ unit: "grapheme", maxLength: 8 }),
      fc.string({ unit: "grapheme", maxLength: 8 })
    ], ([a, b]) => {
      assert.strictEqual(Math.sign(comparePaths(a, b)), -Math.sign(comparePaths(b, a)))
      assert.strictEqual(comparePaths(a, b) === 0, a === b)
    }, { fastCheck: { numRuns: 200 } })
  })
})
