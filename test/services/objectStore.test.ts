import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Fiber, Option, TestClock } from "effect"
import { AlreadyExists, StorageError } from "../../src/domain/Errors.ts"
import {
  conditionalWrite,
  defaultRetry,
  isRetryableNetwork,
  isRetryableStatus,
  SdkFailure,
  toStorageError,
  withRetry
} from "../../src/services/internal/objectStore.ts"
import { SourceChanged } from "../../src/services/internal/fileTransfer.ts"

const transient = new StorageError({
  operation: "write",
  key: "k",
  detail: "HTTP 503",
  retryable: true
})
const permanent = new StorageError({
  operation: "write",
  key: "k",
  detail: "HTTP 403",
  retryable: false
})

// An effect that fails with `error` for its first `failures` runs, counting runs.
const flaky = (failures: number, error: StorageError) => {
  const state = { calls: 0 }
  const effect = Effect.suspend(() =>
    ++state.calls <= failures ? Effect.fail(error) : Effect.succeed("done")
  )
  return { state, effect }
}

describe("objectStore", () => {
  describe("#withRetry", () => {
    it.effect("retries a retryable error after a backoff, then succeeds", () =>
      Effect.gen(function*() {
        const { effect, state } = flaky(2, transient)
        const fiber = yield* Effect.fork(withRetry(defaultRetry)(effect))
        yield* TestClock.adjust("50 millis")
        assert.strictEqual(
          state.calls,
          1,
          "no second attempt before the first backoff (100 ms, jittered)"
        )
        yield* TestClock.adjust("10 seconds")
        assert.strictEqual(yield* Fiber.join(fiber), "done")
        assert.strictEqual(state.calls, 3)
      }))

    it.effect("does not retry an error that is not retryable", () =>
      Effect.gen(function*() {
        const { effect, state } = flaky(1, permanent)
        const result = yield* Effect.either(withRetry(defaultRetry)(effect))
        assert.isTrue(Either.isLeft(result) && result.left === permanent)
        assert.strictEqual(state.calls, 1)
      }))

    it.effect("gives up after the configured number of attempts", () =>
      Effect.gen(function*() {
        const { effect, state } = flaky(100, transient)
        const fiber = yield* Effect.fork(Effect.either(withRetry(defaultRetry)(effect)))
        yield* TestClock.adjust("1 minute")
        const result = yield* Fiber.join(fiber)
        assert.isTrue(Either.isLeft(result) && result.left === transient)
        assert.strictEqual(state.calls, 5)
      }))

    it.effect("caps each delay", () =>
      Effect.gen(function*() {
        const { effect, state } = flaky(100, transient)
        const policy = { attempts: 10, base: "1 second", cap: "2 seconds" } as const
        const fiber = yield* Effect.fork(Effect.either(withRetry(policy)(effect)))
        // Uncapped, the ninth delay alone would be 256 s; capped, all nine fit in 1.2 + 8 × 2 s.
        yield* TestClock.adjust("17300 millis")
        assert.strictEqual(state.calls, 10)
        yield* Fiber.join(fiber)
      }))
  })

  describe("#toStorageError", () => {
    it("marks 408, 429 and 5xx retryable, other statuses not", () => {
      assert.deepStrictEqual([408, 429, 500, 503, 599].map(isRetryableStatus), [
        true,
        true,
        true,
        true,
        true
      ])
      assert.deepStrictEqual([400, 403, 404, 409, 412, undefined].map(isRetryableStatus), [
        false,
        false,
        false,
        false,
        false,
        false
      ])
    })

    it("marks resets, timeouts and hang-ups retryable, also when wrapped", () => {
      assert.isTrue(isRetryableNetwork(Object.assign(new Error("read"), { code: "ECONNRESET" })))
      assert.isTrue(isRetryableNetwork(new Error("socket hang up")))
      assert.isTrue(
        isRetryableNetwork(
          new Error("outer", { cause: Object.assign(new Error("x"), { code: "ETIMEDOUT" }) })
        )
      )
      assert.isTrue(isRetryableNetwork(Object.assign(new Error("slow"), { name: "TimeoutError" })))
      assert.isFalse(isRetryableNetwork(Object.assign(new Error("gone"), { code: "ENOENT" })))
    })

    it("returns operation, key, status and code, and retries listed service codes", () => {
      const conflict = new SdkFailure(
        new Error("conflicting write"),
        409,
        "ConditionalRequestConflict"
      )
      const error = toStorageError("create", "index.json", ["ConditionalRequestConflict"])(conflict)
      assert.strictEqual(error.operation, "create")
      assert.strictEqual(error.key, "index.json")
      assert.strictEqual(error.detail, "HTTP 409 ConditionalRequestConflict: conflicting write")
      assert.isTrue(error.retryable)
      assert.isFalse(toStorageError("create", "index.json")(conflict).retryable)
    })

    it("fails a changed source file as not retryable", () => {
      const error = toStorageError("upload", "a.bin")(
        new SdkFailure(new SourceChanged("/tmp/a.bin"), undefined, undefined)
      )
      assert.strictEqual(error.detail, "/tmp/a.bin changed while it was being sent")
      assert.isFalse(error.retryable)
    })

    it("keeps no secret and not the SDK error", () => {
      const sdkError = Object.assign(
        new Error("denied for AccountKey=s3cr3t;x=1 at https://a/b?sig=t0ken"),
        {
          request: { headers: { authorization: "SharedKey acct:s1gnature" } }
        }
      )
      const error = toStorageError("read", "k")(
        new SdkFailure(sdkError, 403, "AuthorizationFailure")
      )
      assert.notInclude(error.detail, "s3cr3t")
      assert.notInclude(error.detail, "t0ken")
      assert.notInclude(JSON.stringify(error.cause), "s1gnature")
      assert.deepStrictEqual(Object.keys(error.cause as object), ["status", "code", "message"])
    })
  })

  describe("#conditionalWrite", () => {
    const bytes = new TextEncoder().encode("claim of tx-1")
    const written = { key: "claim", size: bytes.length, etag: "e1" }
    // Attempts fail with `first` and then with AlreadyExists, as when the
    // first attempt was committed although its answer was lost.
    const attempts = (first: StorageError | AlreadyExists) => {
      let n = 0
      const exists = new AlreadyExists({ key: "claim" })
      return Effect.suspend(() => Effect.fail(n++ === 0 ? first : exists))
    }
    const holding = (stored: Uint8Array) =>
      Effect.succeed(Option.some({ bytes: stored, etag: "e1" }))

    it.effect("returns success when a retry finds its own earlier write", () =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(
          conditionalWrite("claim", bytes, attempts(transient), holding(bytes), defaultRetry)
        )
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(yield* Fiber.join(fiber), written)
      }))

    it.effect("fails with AlreadyExists when the key holds other bytes", () =>
      Effect.gen(function*() {
        const other = new TextEncoder().encode("claim of tx-2")
        const stored = holding(other)
        const write = conditionalWrite("claim", bytes, attempts(transient), stored, defaultRetry)
        const fiber = yield* Effect.fork(Effect.either(write))
        yield* TestClock.adjust("1 second")
        const result = yield* Fiber.join(fiber)
        assert.isTrue(Either.isLeft(result) && result.left._tag === "AlreadyExists")
      }))

    it.effect("fails with AlreadyExists when no attempt was ambiguous, even for equal bytes", () =>
      Effect.gen(function*() {
        const lost = new AlreadyExists({ key: "claim" })
        const result = yield* Effect.either(
          conditionalWrite("claim", bytes, attempts(lost), holding(bytes), defaultRetry)
        )
        assert.isTrue(Either.isLeft(result) && result.left === lost)
      }))
  })
})
