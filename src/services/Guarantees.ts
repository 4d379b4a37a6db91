import { Clock, Effect, Either, Option, Schema } from "effect"
import { AlreadyExists, StorageError } from "../domain/Errors.ts"
import { encodeJson } from "../domain/Records.ts"
import { Repository, type RepositoryShape } from "./Repository.ts"
import { RuntimeInfo } from "./Runtime.ts"

/** One probe of `doctor`. */
export interface Probe {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

const iso = (ms: number) => new Date(ms).toISOString()

const text = (s: string) => new TextEncoder().encode(s)

/**
 * The probes for what invariant 3 rests on: create-only writes (also under a
 * race of 16 writers: exactly one wins) and compare-and-swap.
 */
export const guaranteeProbes = (
  repo: RepositoryShape,
  prefix: string
): ReadonlyArray<{ readonly name: string; readonly body: Effect.Effect<string, unknown> }> => [
  {
    name: "create-only, sequential",
    body: Effect.gen(function* () {
      yield* repo.create(`${prefix}once`, text("1"))
      const second = yield* Effect.either(repo.create(`${prefix}once`, text("2")))
      if (Either.isRight(second)) return yield* Effect.fail("a second create-only write succeeded")
      if (!(second.left instanceof AlreadyExists)) return yield* Effect.fail(second.left.message)
      return "second write refused"
    })
  },
  {
    name: "create-only, 16 racing writers",
    body: Effect.gen(function* () {
      const results = yield* Effect.forEach(
        Array.from({ length: 16 }, (_, i) => i),
        (i) => Effect.either(repo.create(`${prefix}race`, text(String(i)))),
        { concurrency: "unbounded" }
      )
      const winners = results.filter(Either.isRight).length
      if (winners !== 1) return yield* Effect.fail(`${winners} writers won`)
      return "exactly one winner"
    })
  },
  {
    name: "compare-and-swap",
    body: Effect.gen(function* () {
      const first = yield* repo.swap(`${prefix}cas`, text("1"), undefined)
      yield* repo.swap(`${prefix}cas`, text("2"), first.etag)
      const stale = yield* Effect.either(repo.swap(`${prefix}cas`, text("3"), first.etag))
      if (Either.isRight(stale)) return yield* Effect.fail("a write with a stale token succeeded")
      return "stale token refused"
    })
  }
]

/** What the guarantee probes found, cached in the repository so each runs once. */
const GuaranteeCache = Schema.Struct({
  schema: Schema.Literal("relpub/guarantees/v1"),
  checked_at: Schema.String,
  kind: Schema.String,
  probes: Schema.Array(
    Schema.Struct({ name: Schema.String, ok: Schema.Boolean, detail: Schema.String })
  )
})

export const GUARANTEES_KEY = ".relpub/guarantees.json"

/**
 * Before the first publish into a repository, probe that it enforces
 * create-only writes (one winner among 16 racers) and compare-and-swap, and
 * cache the finding under `.relpub/`. A backend that fails cannot keep
 * invariant 3: refuse it (exit 36) unless the user accepts the risk.
 *
 * @category programs
 */
export const ensureSafeBackend = (allowUnsafe: boolean) =>
  Effect.gen(function* () {
    const repo = yield* Repository
    // A local directory (link(2) and rename(2) under a lock) and the memory
    // repository enforce both by construction; object stores are probed.
    if (repo.kind === "local" || repo.kind === "memory") return
    const runtime = yield* RuntimeInfo
    const cached = yield* repo.read(GUARANTEES_KEY)
    const decoded = Option.flatMap(cached, (c) =>
      Either.getRight(
        Schema.decodeUnknownEither(Schema.parseJson(GuaranteeCache))(
          new TextDecoder().decode(c.bytes)
        )
      )
    )
    let probes: ReadonlyArray<Probe>
    if (Option.isSome(decoded)) {
      probes = decoded.value.probes
    } else {
      const prefix = `.relpub/doctor/${yield* runtime.newId}/`
      const found: Array<Probe> = []
      for (const probe of guaranteeProbes(repo, prefix)) {
        found.push(
          yield* probe.body.pipe(
            Effect.match({
              onFailure: (e) => ({
                name: probe.name,
                ok: false,
                detail: e instanceof Error ? e.message : String(e)
              }),
              onSuccess: (detail) => ({ name: probe.name, ok: true, detail })
            })
          )
        )
      }
      yield* repo.removePrefix(prefix).pipe(Effect.ignore)
      probes = found
      const now = yield* Clock.currentTimeMillis
      const record = {
        schema: "relpub/guarantees/v1",
        checked_at: iso(now),
        kind: repo.kind,
        probes: found
      }
      yield* repo
        .create(GUARANTEES_KEY, encodeJson(record))
        .pipe(Effect.catchTag("AlreadyExists", () => Effect.void))
    }
    const failed = probes.filter((p) => !p.ok)
    if (failed.length === 0) return
    const finding = failed.map((p) => `${p.name}: ${p.detail}`).join("; ")
    if (allowUnsafe) {
      return yield* Effect.logWarning(
        `publishing to a backend that failed relpub doctor (${finding})`
      )
    }
    return yield* new StorageError({
      operation: "probe",
      key: GUARANTEES_KEY,
      detail:
        `the repository cannot guarantee one winner among concurrent publishers (${finding}); ` +
        "see relpub doctor, or pass --allow-unsafe-backend to accept the risk",
      retryable: false
    })
  })
