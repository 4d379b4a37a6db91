import { Clock, Data, Effect, Either, Option, Schema } from "effect"
import { AlreadyExists, type PreconditionFailed, StorageError } from "../domain/Errors.ts"
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
 * A probe's finding that the backend breaks a guarantee. Anything else a
 * probe fails with (a refused or failed request) says nothing about the
 * backend and is never cached.
 */
export class Verdict extends Data.TaggedError("Verdict")<{ readonly message: string }> {}

const verdict = (message: string) => Effect.fail(new Verdict({ message }))

/**
 * Of a create-only write expected to lose: a refusal is fine; any other failure is not a verdict.
 */
const lost = <A>(attempt: Either.Either<A, StorageError | AlreadyExists>) =>
  Either.isLeft(attempt) && !(attempt.left instanceof AlreadyExists)
    ? Effect.fail(attempt.left)
    : Effect.succeed(attempt)

/**
 * The probes for what invariant 3 rests on: create-only writes (also under a
 * race of 16 writers: exactly one wins) and compare-and-swap.
 */
export const guaranteeProbes = (
  repo: RepositoryShape,
  prefix: string
): ReadonlyArray<{
  readonly name: string
  readonly body: Effect.Effect<string, Verdict | StorageError | AlreadyExists | PreconditionFailed>
}> => [
  {
    name: "create-only, sequential",
    body: Effect.gen(function* () {
      yield* repo.create(`${prefix}once`, text("1"))
      const second = yield* lost(yield* Effect.either(repo.create(`${prefix}once`, text("2"))))
      if (Either.isRight(second)) return yield* verdict("a second create-only write succeeded")
      return "second write refused"
    })
  },
  {
    name: "create-only, 16 racing writers",
    body: Effect.gen(function* () {
      const results = yield* Effect.forEach(
        Array.from({ length: 16 }, (_, i) => i),
        (i) =>
          Effect.either(repo.create(`${prefix}race`, text(String(i)))).pipe(Effect.flatMap(lost)),
        { concurrency: "unbounded" }
      )
      const winners = results.filter(Either.isRight).length
      if (winners !== 1) return yield* verdict(`${winners} writers won`)
      return "exactly one winner"
    })
  },
  {
    name: "compare-and-swap",
    body: Effect.gen(function* () {
      const first = yield* repo.swap(`${prefix}cas`, text("1"), undefined)
      yield* repo.swap(`${prefix}cas`, text("2"), first.etag)
      const stale = yield* Effect.either(repo.swap(`${prefix}cas`, text("3"), first.etag)).pipe(
        Effect.flatMap((e) =>
          Either.isLeft(e) && e.left._tag !== "PreconditionFailed"
            ? Effect.fail(e.left)
            : Effect.succeed(e)
        )
      )
      if (Either.isRight(stale)) return yield* verdict("a write with a stale token succeeded")
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
 * Cache what the guarantee probes found (only verdicts: a probe whose
 * requests failed is never cached). With `replace`, an earlier finding is
 * overwritten (`relpub doctor` probes again); without it, the first writer's
 * finding stands.
 */
export const cacheProbes = (
  repo: RepositoryShape,
  probes: ReadonlyArray<Probe>,
  replace: boolean
) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const bytes = encodeJson({
      schema: "relpub/guarantees/v1",
      checked_at: iso(now),
      kind: repo.kind,
      probes
    })
    if (!replace) {
      return yield* repo
        .create(GUARANTEES_KEY, bytes)
        .pipe(Effect.catchTag("AlreadyExists", () => Effect.void))
    }
    const current = yield* repo.head(GUARANTEES_KEY)
    yield* repo
      .swap(GUARANTEES_KEY, bytes, Option.getOrUndefined(Option.map(current, (o) => o.etag)))
      .pipe(Effect.catchTag("PreconditionFailed", () => Effect.void))
  })

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
      const run = Effect.forEach(
        guaranteeProbes(repo, prefix),
        (probe) =>
          probe.body.pipe(
            Effect.map((detail) => ({ name: probe.name, ok: true, detail })),
            Effect.catchTag("Verdict", (v) =>
              Effect.succeed({ name: probe.name, ok: false, detail: v.message })
            ),
            Effect.map((p) => void found.push(p)),
            // A request that failed tells nothing about the backend: report it,
            // and probe again next time.
            Effect.mapError(
              (e) =>
                new StorageError({
                  operation: "probe",
                  key: prefix,
                  detail:
                    `could not probe the backend's guarantees (${probe.name}): ` +
                    `${e._tag === "StorageError" ? e.detail : `${e._tag} ${e.key}`}`,
                  retryable: false
                })
            )
          ),
        { discard: true }
      )
      yield* run.pipe(Effect.ensuring(repo.removePrefix(prefix).pipe(Effect.ignore)))
      probes = found
      yield* cacheProbes(repo, found, false)
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
