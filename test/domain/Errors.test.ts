import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import {
  AlreadyExists,
  exitCodeOf,
  KeyError,
  PolicyRejected,
  PreconditionFailed,
  type PublishError,
  RolledBack,
  StorageError,
  Unexpected,
  UsageError,
  VersionExists
} from "../../src/domain/Errors.ts"
import { ExitCode } from "../../src/domain/ExitCode.ts"
import { violation } from "../../src/domain/Policy.ts"

const rejected = (codes: ReadonlyArray<ExitCode>) =>
  new PolicyRejected({
    violations: codes.map((c) => violation("manifest", c, "refuse", undefined, `code ${c}`)),
    warnings: []
  })

const cases: ReadonlyArray<readonly [PublishError, ExitCode]> = [
  [new UsageError({ message: "unknown flag" }), 2],
  [new KeyError({ file: "release.key", detail: "not a PEM file" }), 2],
  [rejected([34, 30]), 34],
  [new VersionExists({ version: "1.0.0", reason: "published", detail: "release.json" }), 32],
  [new VersionExists({ version: "1.0.0", reason: "claimed", detail: "host a" }), 32],
  [new StorageError({ operation: "write", key: "index.json", detail: "503", retryable: true }), 36],
  [new RolledBack({ step: "promote", detail: "rename failed" }), 37],
  [new Unexpected({ detail: "boom", cause: new Error("boom") }), 39]
]

describe("Errors", () => {
  describe("#exitCodeOf", () => {
    for (const [error, code] of cases) {
      describe(`when the error is ${error._tag}`, () => {
        it(`returns ${code}`, () => {
          assert.strictEqual(exitCodeOf(error), code)
        })
      })
    }
  })

  describe("PolicyRejected", () => {
    describe("when it has violations", () => {
      it("returns the first violation's exit code", () => {
        assert.strictEqual(rejected([31, 30, 38]).exitCode, 31)
      })
    })

    describe("when it has no violations", () => {
      it("returns the policy-violation exit code", () => {
        assert.strictEqual(rejected([]).exitCode, ExitCode.PolicyViolation)
      })
    })
  })

  describe("when an error is yielded in an Effect", () => {
    for (const [error] of cases) {
      it.effect(`fails with the ${error._tag} tag`, () =>
        Effect.gen(function*() {
          const exit = yield* Effect.exit(Effect.fail(error))
          assert.isTrue(Exit.isFailure(exit))
          const caught = yield* Effect.flip(Effect.gen(function*() {
            return yield* error
          }))
          assert.strictEqual(caught._tag, error._tag)
          assert.strictEqual(caught, error)
          assert.isAbove(caught.message.length, 0)
        }))
    }

    it.effect("fails with tags that catchTags can tell apart", () =>
      Effect.gen(function*() {
        const program = (e: AlreadyExists | PreconditionFailed) =>
          Effect.fail(e).pipe(Effect.catchTags({
            AlreadyExists: (x) => Effect.succeed(`exists ${x.key}`),
            PreconditionFailed: (x) => Effect.succeed(`changed ${x.key}`)
          }))
        assert.strictEqual(yield* program(new AlreadyExists({ key: "k" })), "exists k")
        assert.strictEqual(yield* program(new PreconditionFailed({ key: "k" })), "changed k")
      }))
  })

  describe("StorageError", () => {
    it("returns its structured fields", () => {
      const cause = new Error("ECONNRESET")
      const e = new StorageError({
        operation: "upload",
        key: "a",
        detail: "reset",
        retryable: true,
        cause
      })
      assert.strictEqual(e.operation, "upload")
      assert.isTrue(e.retryable)
      assert.strictEqual(e.cause, cause)
    })
  })
})
