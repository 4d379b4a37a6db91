import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, FastCheck as fc } from "effect"
import {
  indexMarkdownMarker,
  indexMarkdownSerial,
  renderIndexMarkdown
} from "../../src/domain/IndexMarkdown.ts"
import { emptyIndex, type IndexEntry, RepositoryIndex } from "../../src/domain/Records.ts"

const H = "e".repeat(64)
const entry = (version: string, overrides: Partial<IndexEntry> = {}): IndexEntry => ({
  version,
  timestamp: "2024-05-01T12:00:00Z",
  sha256: H,
  size_bytes: 3 * 1024 * 1024 / 2,
  artifacts: ["a", "b"],
  sbom_id: null,
  slsa_id: null,
  provenance_hash: null,
  signed: true,
  encrypted: false,
  verification: null,
  validation: null,
  release_record_sha256: H,
  ...overrides
})

const tableRows = (md: string) =>
  md.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| ---"))

describe("IndexMarkdown", () => {
  describe("#indexMarkdownSerial", () => {
    it.prop("returns the serial written by indexMarkdownMarker", [fc.nat()], ([serial]) => {
      assert.strictEqual(indexMarkdownSerial(indexMarkdownMarker(serial)), serial)
      const text = `${indexMarkdownMarker(serial)}\n# Release index\n`
      assert.strictEqual(indexMarkdownSerial(text), serial)
    }, { fastCheck: { numRuns: 200 } })

    describe("when the text has no marker on its first line", () => {
      it("returns -1", () => {
        for (const text of [
          "",
          "# Release index",
          `\n${indexMarkdownMarker(3)}`,
          " <!-- relpub index serial 3 -->",
          "<!-- relpub index serial -->",
          "<!-- relpub index serial x -->"
        ]) {
          assert.strictEqual(indexMarkdownSerial(text), -1, text)
        }
      })
    })
  })

  describe("#renderIndexMarkdown", () => {
    const indexes = Arbitrary.make(RepositoryIndex)
    it.prop("returns text whose marker names the serial", [indexes, fc.nat()], ([ix, serial]) => {
      const md = renderIndexMarkdown({ ...ix, serial })
      const rows = ix.releases.length === 0 ? 0 : ix.releases.length + 1
      assert.strictEqual(indexMarkdownSerial(md), serial)
      assert.isTrue(md.endsWith("\n"))
      assert.strictEqual(tableRows(md).length, rows)
    }, { fastCheck: { numRuns: 50 } })

    describe("when the index is empty", () => {
      it("returns a heading and no table", () => {
        const md = renderIndexMarkdown(emptyIndex)
        assert.strictEqual(indexMarkdownSerial(md), 0)
        assert.include(md, "# Release index")
        assert.include(md, "never")
        assert.notInclude(md, "| version")
      })
    })

    describe("when the index has releases", () => {
      it("returns one row per release, newest first as given", () => {
        const md = renderIndexMarkdown({
          ...emptyIndex,
          serial: 7,
          total_releases: 2,
          last_updated: "2024-05-02T00:00:00Z",
          releases: [entry("v1.1.0"), entry("v1.0.0", { signed: false, artifacts: [] })]
        })
        const rows = tableRows(md)
        assert.deepStrictEqual(rows.slice(1), [
          `| v1.1.0 | 2024-05-01T12:00:00Z | 2 | 1.50 | yes | \`${H}\` |`,
          `| v1.0.0 | 2024-05-01T12:00:00Z | 0 | 1.50 | no | \`${H}\` |`
        ])
        assert.include(md, "2 releases, last updated 2024-05-02T00:00:00Z.")
      })
    })

    describe("when a release is yanked", () => {
      it("returns its row with the version marked yanked", () => {
        const md = renderIndexMarkdown({
          ...emptyIndex,
          total_releases: 2,
          releases: [entry("v1.1.0"), entry("v1.0.0", { yanked: { at: "2024-05-03T00:00:00Z", reason: "a|b" } })]
        })
        const rows = tableRows(md)
        assert.strictEqual(rows.length, 3)
        assert.isTrue(rows[1]!.startsWith("| v1.1.0 | "))
        assert.isTrue(rows[2]!.startsWith("| v1.0.0 (yanked) | "))
      })
    })

    describe("when there is one release", () => {
      it("returns the singular", () => {
        const index = { ...emptyIndex, total_releases: 1, releases: [entry("1.0.0")] }
        const md = renderIndexMarkdown(index)
        assert.include(md, "1 release, ")
      })
    })

    describe("when a cell holds a pipe or a line break", () => {
      it("returns a row that stays one table row", () => {
        const md = renderIndexMarkdown({
          ...emptyIndex,
          total_releases: 1,
          releases: [entry("1.0.0", { timestamp: "a|b\r\nc" })]
        })
        const rows = tableRows(md)
        assert.strictEqual(rows.length, 2)
        assert.include(rows[1]!, "a\\|b c")
      })
    })
  })
})
