import { assert, describe, it } from "@effect/vitest"
import { Array as Arr, Either, FastCheck as fc } from "effect"
import {
  canonicalVersion,
  compareVersions,
  parseVersion,
  versionError,
  VersionOrder,
  versionSpellings
} from "../../src/domain/Version.ts"

interface Semver {
  readonly core: readonly [bigint, bigint, bigint]
  readonly pre: ReadonlyArray<string>
  readonly text: string
}

const ALNUM = [..."0123456789abcxyzABCXYZ-"]
const LETTER = [..."abcxyzABCXYZ-"]
const numeric = fc.oneof(
  fc.constant("0"),
  fc.integer({ min: 1, max: 999_999 }).map(String),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }).map(String)
)
const alnumRest = fc.array(fc.constantFrom(...ALNUM), { maxLength: 6 }).map((cs) => cs.join(""))
const alphanumeric = fc.oneof(
  fc.tuple(fc.constantFrom(...LETTER), alnumRest).map(([l, r]) => l + r),
  fc.tuple(alnumRest, fc.constantFrom(...LETTER)).map(([r, l]) => r + l)
)
const preId = fc.oneof(fc.integer({ min: 0, max: 99_999 }).map(String), alphanumeric)
const buildId = fc.array(fc.constantFrom(...ALNUM), { minLength: 1, maxLength: 7 })
  .map((cs) => cs.join(""))

const make = (
  core: readonly [string, string, string],
  pre: ReadonlyArray<string>,
  build: ReadonlyArray<string>,
  v: boolean
): Semver => ({
  core: [BigInt(core[0]), BigInt(core[1]), BigInt(core[2])],
  pre,
  text: (v ? "v" : "") + core.join(".") + (pre.length > 0 ? `-${pre.join(".")}` : "") +
    (build.length > 0 ? `+${build.join(".")}` : "")
})

const semverWith = (withBuild: boolean) =>
  fc.tuple(
    fc.tuple(numeric, numeric, numeric),
    fc.array(preId, { maxLength: 3 }),
    withBuild ? fc.array(buildId, { maxLength: 3 }) : fc.constant([]),
    fc.boolean()
  ).map(([core, pre, build, v]) => make(core, pre, build, v))

// Versions drawn from a small pool so that equal precedence happens often.
const tiedSemver = fc.tuple(
  fc.tuple(fc.constantFrom("0", "1", "2"), fc.constantFrom("0", "1"), fc.constantFrom("0", "1")),
  fc.array(fc.constantFrom("alpha", "beta", "rc", "1", "2", "10", "a-1"), { maxLength: 2 }),
  fc.array(fc.constantFrom("b1", "b2", "001"), { maxLength: 1 }),
  fc.boolean()
).map(([core, pre, build, v]) => make(core, pre, build, v))

const isNumeric = (s: string) => /^[0-9]+$/.test(s)
const cmp = <A>(a: A, b: A): number => (a < b ? -1 : a > b ? 1 : 0)

// Precedence as Semantic Versioning 2.0.0, section 11, states it.
const precedence = (a: Semver, b: Semver): number => {
  for (let i = 0; i < 3; i++) {
    const c = cmp(a.core[i]!, b.core[i]!)
    if (c !== 0) return c
  }
  if (a.pre.length === 0 || b.pre.length === 0) return cmp(b.pre.length, a.pre.length)
  for (let i = 0; i < Math.min(a.pre.length, b.pre.length); i++) {
    const x = a.pre[i]!
    const y = b.pre[i]!
    const c = isNumeric(x) && isNumeric(y)
      ? cmp(BigInt(x), BigInt(y))
      : isNumeric(x) ? -1 : isNumeric(y) ? 1 : cmp(x, y)
    if (c !== 0) return c
  }
  return cmp(a.pre.length, b.pre.length)
}

const small = fc.nat(999)
const garbage = fc.tuple(small, small, small, alphanumeric).chain(([a, b, c, id]) =>
  fc.constantFrom(
    `0${a + 1}.${b}.${c}`,
    `${a}.0${b + 1}.${c}`,
    `${a}.${b}`,
    `${a}`,
    `${a}.${b}.${c}.${a}`,
    ` ${a}.${b}.${c}`,
    `${a}.${b}.${c} `,
    `${a}. ${b}.${c}`,
    `v ${a}.${b}.${c}`,
    `${a}.${b}.${c}\n`,
    `=${a}.${b}.${c}`,
    `V${a}.${b}.${c}`,
    `vv${a}.${b}.${c}`,
    `${a}.${b}.${c}-0${c + 1}`,
    `${a}.${b}.${c}-`,
    `${a}.${b}.${c}-${id}..x`,
    `${a}.${b}.${c}+`,
    `${a}.${b}.${c}-a_b`,
    `${a}.${b}.${c}-é`,
    `${a}.${b}.${c}-${"x".repeat(130)}`,
    `${a}.${b}.x`,
    `${a}.${b}.-${c}`,
    "",
    "v"
  )
)

describe("Version", () => {
  describe("#parseVersion", () => {
    describe("when the text is a semantic version", () => {
      it("returns it unchanged", () => {
        for (const s of ["1.4.0", "v1.4.0", "0.0.0", "v1.4.0-rc.1", "10.20.30-alpha.beta.1"]) {
          assert.strictEqual(Either.getOrUndefined(parseVersion(s)), s)
        }
      })

      const versions = { v: semverWith(false) }
      it.prop("returns every generated version without build metadata", versions, ({ v }) => {
        assert.isTrue(Either.isRight(parseVersion(v.text)), v.text)
      }, { fastCheck: { numRuns: 200 } })
    })

    describe("when the version carries build metadata", () => {
      it("returns it unchanged", () => {
        for (const s of ["1.2.3+build.5", "v1.0.0-rc.1+sha.abc"]) {
          assert.strictEqual(Either.getOrUndefined(parseVersion(s)), s)
        }
      })
    })

    describe("when the text is not a semantic version", () => {
      it.prop("fails for generated garbage", [garbage], ([s]) => {
        assert.isTrue(Either.isLeft(parseVersion(s)), JSON.stringify(s))
      }, { fastCheck: { numRuns: 200 } })

      it("fails for values that are not strings", () => {
        for (const u of [1, null, undefined, { major: 1 }, ["1.0.0"]]) {
          assert.isTrue(Either.isLeft(parseVersion(u)))
        }
      })

      it("fails for a version longer than 128 characters", () => {
        const long = `1.0.0-${"a".repeat(123)}`
        assert.strictEqual(long.length, 129)
        assert.isTrue(Either.isLeft(parseVersion(long)))
        assert.isTrue(Either.isRight(parseVersion(long.slice(0, 128))))
      })
    })
  })

  describe("#versionError", () => {
    it("returns a non-empty explanation", () => {
      const result = parseVersion("1.2")
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) assert.isAbove(versionError(result.left).length, 0)
    })
  })

  describe("#compareVersions", () => {
    describe("when precedence differs", () => {
      it("returns the semantic-version order", () => {
        assert.strictEqual(compareVersions("1.0.0-alpha", "1.0.0"), -1)
        assert.strictEqual(compareVersions("1.0.0-alpha.1", "1.0.0-alpha.beta"), -1)
        assert.strictEqual(compareVersions("1.0.0-2", "1.0.0-10"), -1)
        assert.strictEqual(compareVersions("v2.0.0", "10.0.0"), -1)
        assert.strictEqual(compareVersions("1.10.0", "v1.9.0"), 1)
      })
    })

    describe("when prerelease numbers exceed the safe integer range", () => {
      // Numeric identifiers beyond 2^53 still compare as integers (SemVer 11.4).
      it("returns the numeric order", () => {
        const big = "1.0.0-10000000000000000001"
        assert.strictEqual(compareVersions(big, "1.0.0-9999999999999999999"), 1)
      })
    })

    describe("when only the spelling differs", () => {
      it("returns a non-zero order that is stable", () => {
        assert.strictEqual(compareVersions("1.0.0", "v1.0.0"), -compareVersions("v1.0.0", "1.0.0"))
        assert.notStrictEqual(compareVersions("1.0.0", "v1.0.0"), 0)
        assert.notStrictEqual(compareVersions("1.0.0+a", "1.0.0+b"), 0)
        assert.strictEqual(compareVersions("v1.0.0", "v1.0.0"), 0)
      })
    })

    const pair = { a: semverWith(true), b: semverWith(true) }
    it.prop("returns the order of semantic-version precedence", pair, ({ a, b }) => {
      const p = precedence(a, b)
      if (p !== 0) assert.strictEqual(compareVersions(a.text, b.text), p)
    }, { fastCheck: { numRuns: 200 } })

    it.prop("returns the same order whatever the v prefix", [tiedSemver, tiedSemver], ([a, b]) => {
      const strip = (s: string) => (s.startsWith("v") ? s.slice(1) : s)
      if (precedence(a, b) === 0) return
      const expected = compareVersions(strip(a.text), strip(b.text))
      assert.strictEqual(compareVersions(`v${strip(a.text)}`, strip(b.text)), expected)
      assert.strictEqual(compareVersions(strip(a.text), `v${strip(b.text)}`), expected)
      assert.strictEqual(compareVersions(`v${strip(a.text)}`, `v${strip(b.text)}`), expected)
    }, { fastCheck: { numRuns: 200 } })

    it.prop("returns zero only for identical strings", [tiedSemver, tiedSemver], ([a, b]) => {
      assert.strictEqual(compareVersions(a.text, a.text), 0)
      assert.strictEqual(compareVersions(a.text, b.text) === 0, a.text === b.text)
    }, { fastCheck: { numRuns: 200 } })

    it.prop("returns an antisymmetric order", [tiedSemver, tiedSemver], ([a, b]) => {
      assert.strictEqual(compareVersions(a.text, b.text), -compareVersions(b.text, a.text) || 0)
    }, { fastCheck: { numRuns: 200 } })

    it.prop("returns a transitive order", [tiedSemver, tiedSemver, tiedSemver], ([a, b, c]) => {
      const [x, y, z] = [a.text, b.text, c.text].sort(compareVersions)
      assert.isAtMost(compareVersions(x!, y!), 0)
      assert.isAtMost(compareVersions(y!, z!), 0)
      assert.isAtMost(compareVersions(x!, z!), 0)
      if (compareVersions(a.text, b.text) <= 0 && compareVersions(b.text, c.text) <= 0) {
        assert.isAtMost(compareVersions(a.text, c.text), 0)
      }
    }, { fastCheck: { numRuns: 200 } })
  })

  describe("#VersionOrder", () => {
    it("returns newest last when sorting", () => {
      const sorted = Arr.sort(["1.10.0", "v1.2.0", "1.2.0-rc.1", "0.9.0", "1.2.0"], VersionOrder)
      assert.deepStrictEqual(sorted, ["0.9.0", "1.2.0-rc.1", "1.2.0", "v1.2.0", "1.10.0"])
    })
  })

  describe("#canonicalVersion", () => {
    it("returns the version without its leading v", () => {
      assert.strictEqual(canonicalVersion("v1.2.0"), "1.2.0")
      assert.strictEqual(canonicalVersion("1.2.0"), "1.2.0")
    })
  })

  describe("#versionSpellings", () => {
    it("returns the bare and the v spelling", () => {
      assert.deepStrictEqual(versionSpellings("v1.2.0"), ["1.2.0", "v1.2.0"])
      assert.deepStrictEqual(versionSpellings("1.2.0-rc.1"), ["1.2.0-rc.1", "v1.2.0-rc.1"])
    })
  })
})
