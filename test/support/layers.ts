// Test layers for the publisher: a memory repository over a store the test can
// snapshot, fixed runtime ids, TestClock (from it.effect), and a fault-injecting
// repository wrapper that fails, or blocks for an interruption, at one chosen step.
import { Clock, Deferred, Effect, Layer } from "effect"
import { createHash } from "node:crypto"
import { type KeyError, StorageError, type StorageOperation } from "../../src/domain/Errors.ts"
import { type Claim, encodeJson, Keys } from "../../src/domain/Records.ts"
import { canonicalVersion } from "../../src/domain/Version.ts"
import * as Hasher from "../../src/services/Hasher.ts"
import * as LocalRepository from "../../src/services/LocalRepository.ts"
import * as MemoryRepository from "../../src/services/MemoryRepository.ts"
import * as ReleaseReader from "../../src/services/ReleaseReader.ts"
import { Repository, type RepositoryShape } from "../../src/services/Repository.ts"
import * as Runtime from "../../src/services/Runtime.ts"
import * as Signer from "../../src/services/Signer.ts"
import { makeRelease, type ReleaseFixture, tempDir } from "./release.ts"

/** Repository operations a fault can be planted in. */
export type Operation =
  | "create" | "swap" | "remove" | "removePrefix" | "upload" | "promote" | "list" | "read" | "head"
  | "download"

/** One call the wrapped repository saw: the operation and its key (or prefix; `to` for promote). */
export interface Call {
  readonly op: Operation
  readonly key: string
}

/**
 * A fault at the `nth` call (1-based) of `op` whose key matches `key`:
 * - `fail`: the call does not run and fails with a StorageError (retryable false);
 * - `fail-after`: the call runs, then reports a StorageError (an ambiguous outcome);
 * - `block`: completes `reached`, then waits for `gate` before running the call, so a
 *   test can interrupt the publish exactly there (or open the gate to let it go on).
 */
export interface Fault {
  readonly op: Operation
  readonly nth: number
  readonly key: (key: string) => boolean
  readonly mode: "fail" | "fail-after" | "block"
  /** Whether the injected StorageError says a retry might succeed (a reset, a 5xx). */
  readonly retryable: boolean
  readonly reached: Deferred.Deferred<void>
  readonly gate: Deferred.Deferred<void>
}

/** Faults to plant, and the log of every call the wrapped repository received, in order. */
export interface FaultPlan {
  readonly faults: ReadonlyArray<Fault>
  readonly calls: Array<Call>
}

export const fault = (
  op: Operation,
  options: {
    readonly nth?: number | undefined
    readonly key?: ((key: string) => boolean) | undefined
    readonly mode?: Fault["mode"] | undefined
    readonly retryable?: boolean | undefined
  } = {}
): Effect.Effect<Fault> =>
  Effect.map(Effect.all([Deferred.make<void>(), Deferred.make<void>()]), ([reached, gate]) => ({
    op,
    nth: options.nth ?? 1,
    key: options.key ?? (() => true),
    mode: options.mode ?? "fail",
    retryable: options.retryable ?? false,
    reached,
    gate
  }))

export const plan = (...faults: ReadonlyArray<Fault>): FaultPlan => ({ faults, calls: [] })

const operationOf: Record<Operation, StorageOperation> = {
  create: "create",
  swap: "swap",
  remove: "delete",
  removePrefix: "delete",
  upload: "upload",
  promote: "promote",
  list: "list",
  read: "read",
  head: "read",
  download: "read"
}

/** `inner`, with the faults of `plan` planted and every call recorded in `plan.calls`. */
export const faultyRepository = (inner: RepositoryShape, faultPlan: FaultPlan): RepositoryShape => {
  const seen = new Map<Fault, number>()
  const wrap = <A, E>(op: Operation, key: string, run: Effect.Effect<A, E>) =>
    Effect.suspend((): Effect.Effect<A, E | StorageError> => {
      faultPlan.calls.push({ op, key })
      let hit: Fault | undefined
      for (const f of faultPlan.faults) {
        if (f.op !== op || !f.key(key)) continue
        const n = (seen.get(f) ?? 0) + 1
        seen.set(f, n)
        if (n === f.nth) hit ??= f
      }
      if (hit === undefined) return run
      const injected = new StorageError({
        operation: operationOf[op],
        key,
        detail: `injected fault at ${op} #${hit.nth}`,
        retryable: hit.retryable
      })
      const signal = Deferred.succeed(hit.reached, undefined)
      switch (hit.mode) {
        case "fail":
          return Effect.zipRight(signal, Effect.fail(injected))
        case "fail-after":
          return run.pipe(Effect.zipRight(signal), Effect.zipRight(Effect.fail(injected)))
        case "block":
          return signal.pipe(Effect.zipRight(Deferred.await(hit.gate)), Effect.zipRight(run))
      }
    })
  return {
    kind: inner.kind,
    location: inner.location,
    stagingMode: inner.stagingMode,
    read: (key) => wrap("read", key, inner.read(key)),
    head: (key) => wrap("head", key, inner.head(key)),
    list: (prefix) => wrap("list", prefix, inner.list(prefix)),
    create: (key, bytes) => wrap("create", key, inner.create(key, bytes)),
    swap: (key, bytes, expected) => wrap("swap", key, inner.swap(key, bytes, expected)),
    remove: (key, expected) => wrap("remove", key, inner.remove(key, expected)),
    removePrefix: (prefix) => wrap("removePrefix", prefix, inner.removePrefix(prefix)),
    upload: (localPath, key) => wrap("upload", key, inner.upload(localPath, key)),
    promote: (from, to, keys) => wrap("promote", to, inner.promote(from, to, keys)),
    download: (key, localPath) => wrap("download", key, inner.download(key, localPath))
  }
}

/** A memory repository over `store`, optionally with faults planted or another staging mode. */
export const memoryRepository = (
  store: MemoryRepository.MemoryStore,
  options: {
    readonly plan?: FaultPlan | undefined
    readonly stagingMode?: RepositoryShape["stagingMode"] | undefined
  } = {}
): Layer.Layer<Repository, never, Hasher.Hasher> =>
  Layer.effect(
    Repository,
    Effect.map(Hasher.Hasher, (hasher) => {
      const memory = MemoryRepository.makeMemoryRepository(hasher, store)
      const repo = options.plan === undefined ? memory : faultyRepository(memory, options.plan)
      const stagingMode = options.stagingMode ?? repo.stagingMode
      return { ...repo, stagingMode }
    })
  )

export interface StackOptions {
  /** The repository (default: a fresh memory repository). */
  readonly repository?: Layer.Layer<Repository, never, Hasher.Hasher> | undefined
  readonly runtime?: Parameters<typeof Runtime.layerFixed>[0] | undefined
  /** The signing key (default: none). */
  readonly signer?: Layer.Layer<Signer.Signer, KeyError> | undefined
}

/** Everything `Publisher.publish` and `Maintenance` need, with fixed ids and host. */
export const stack = (options: StackOptions = {}) =>
  Layer.mergeAll(
    options.repository ?? MemoryRepository.layer(),
    ReleaseReader.layer,
    Runtime.layerFixed(options.runtime),
    options.signer ?? Signer.layerNone
  ).pipe(Layer.provideMerge(Hasher.layer))

/** A generated Ed25519 key pair and the Signer layer that signs with it. */
export const ed25519Signer = () => {
  const pair = Signer.generateKeyPair("ed25519")
  return { ...pair, layer: Signer.layerFromPem("test-ed25519.pem", pair.privateKeyPem) }
}

/**
 * Every object of a memory store as `etag sha256`: equal snapshots mean the
 * same objects, byte for byte, none of them rewritten.
 */
export const snapshotStore = (store: MemoryRepository.MemoryStore): Record<string, string> =>
  Object.fromEntries(
    [...store.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, e]) => [k, `${e.etag} ${createHash("sha256").update(e.bytes).digest("hex")}`])
  )

/** A release directory (test/support/release.ts) removed when the scope closes. */
export const scopedRelease = (options: Parameters<typeof makeRelease>[0] = {}) =>
  Effect.acquireRelease(Effect.sync((): ReleaseFixture => makeRelease(options)), (f) =>
    Effect.sync(f.cleanup))

/** A temporary directory removed when the scope closes. */
export const scopedTempDir = (prefix?: string) =>
  Effect.map(
    Effect.acquireRelease(Effect.sync(() => tempDir(prefix)), (t) => Effect.sync(t.cleanup)),
    (t) => t.dir
  )

/** A repository layer for a test: a fresh memory store, or a local temp directory. */
export const backend = (name: "memory" | "local") =>
  name === "memory"
    ? Effect.sync((): Layer.Layer<Repository, never, Hasher.Hasher> => MemoryRepository.layer())
    : Effect.map(
      scopedTempDir(),
      (dir): Layer.Layer<Repository, never, Hasher.Hasher> => LocalRepository.layer(dir)
    )

/**
 * Leave behind what a publisher that died mid-publish leaves: its claim (made
 * now, with `leaseMillis`), staged objects and, optionally, objects already
 * promoted into `releases/<version>/` without a release record.
 */
export const plantAttempt = (options: {
  readonly version: string
  readonly txid: string
  readonly host?: string
  readonly pid?: number
  readonly leaseMillis?: number
  /** Default: `.relpub/staging/<txid>/`; an in-place backend stages in `releases/<version>/`. */
  readonly stagingPrefix?: string
  readonly staged?: ReadonlyArray<string>
  readonly promoted?: ReadonlyArray<string>
}) =>
  Effect.gen(function*() {
    const repo = yield* Repository
    const now = yield* Clock.currentTimeMillis
    const stagingPrefix = options.stagingPrefix ?? Keys.stagingPrefix(options.txid)
    const claim: Claim = {
      schema: "relpub/claim/v1",
      version: options.version,
      transaction_id: options.txid,
      host: options.host ?? "test-host",
      pid: options.pid ?? 4242,
      created_at: new Date(now).toISOString(),
      lease_expires_at: new Date(now + (options.leaseMillis ?? 15 * 60_000)).toISOString(),
      staging_prefix: stagingPrefix
    }
    const bytes = (s: string) => new TextEncoder().encode(s)
    const claimKey = Keys.claim(canonicalVersion(options.version))
    yield* repo.create(claimKey, encodeJson(claim))
    for (const path of options.staged ?? []) {
      yield* repo.create(stagingPrefix + path, bytes(`staged ${path}`))
    }
    for (const path of options.promoted ?? []) {
      yield* repo.create(Keys.releaseFile(options.version, path), bytes(`promoted ${path}`))
    }
    return claimKey
  })
