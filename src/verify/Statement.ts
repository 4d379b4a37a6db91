import { Array as Arr, Effect, ParseResult, Schema } from "effect"
import { canonicalize } from "json-canonicalize"
import { FormatError } from "./Finding.ts"

export const STATEMENT_V1 = "https://in-toto.io/Statement/v1"
export const STATEMENT_V01 = "https://in-toto.io/Statement/v0.1"
export const SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
export const SLSA_PROVENANCE_V02 = "https://slsa.dev/provenance/v0.2"

const DigestSet = Schema.Record({ key: Schema.String, value: Schema.String })

/** An in-toto Statement, v1 or v0.1 (in-toto attestation spec, statement.md). */
export const Statement = Schema.Struct({
  _type: Schema.Literal(STATEMENT_V1, STATEMENT_V01),
  subject: Schema.NonEmptyArray(
    Schema.Struct({ name: Schema.optional(Schema.String), digest: DigestSet })
  ),
  predicateType: Schema.String,
  predicate: Schema.optional(Schema.Unknown)
})
export type Statement = typeof Statement.Type

const Resource = Schema.Struct({
  uri: Schema.optional(Schema.String),
  digest: Schema.optional(DigestSet)
})

// SLSA provenance v1 (slsa.dev/spec/v1.0/provenance) and v0.2 (slsa.dev/provenance/v0.2).
const SlsaV1 = Schema.Struct({
  buildDefinition: Schema.Struct({
    buildType: Schema.String,
    externalParameters: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
    resolvedDependencies: Schema.optional(Schema.Array(Resource))
  }),
  runDetails: Schema.Struct({
    builder: Schema.Struct({ id: Schema.String }),
    metadata: Schema.optional(Schema.Struct({ invocationId: Schema.optional(Schema.String) }))
  })
})
const SlsaV02 = Schema.Struct({
  builder: Schema.Struct({ id: Schema.String }),
  buildType: Schema.String,
  invocation: Schema.optional(Schema.Struct({ configSource: Schema.optional(Resource) })),
  metadata: Schema.optional(Schema.Struct({ buildInvocationId: Schema.optional(Schema.String) })),
  materials: Schema.optional(Schema.Array(Resource))
})

/** What relpub reads from a SLSA predicate. */
export interface SlsaFacts {
  readonly builderId: string
  readonly invocationId: string | undefined
  readonly sourceUris: ReadonlyArray<string>
}

const bad = (reason: FormatError["reason"], detail: string) =>
  new FormatError({ format: "provenance", reason, detail })

/** Decodes with a schema, failing with a schema-invalid {@link FormatError}. */
export const decode = <A, I>(schema: Schema.Schema<A, I>, value: unknown, what: string) =>
  Schema.decodeUnknown(schema)(value).pipe(
    Effect.mapError((e) =>
      bad("schema-invalid", `${what}: ${ParseResult.TreeFormatter.formatErrorSync(e)}`)
    )
  )

/** Builder, invocation id and source URIs of a SLSA v1 or v0.2 predicate. */
export const slsaFacts = (s: Statement): Effect.Effect<SlsaFacts, FormatError> =>
  s.predicateType === SLSA_PROVENANCE_V1
    ? Effect.map(decode(SlsaV1, s.predicate, "SLSA v1 predicate"), (p) => {
        const params = p.buildDefinition.externalParameters
        const workflow = params.workflow as { repository?: unknown } | undefined
        const source = params.source as { uri?: unknown } | undefined
        const deps = (p.buildDefinition.resolvedDependencies ?? []).map((d) => d.uri)
        const uris = [workflow?.repository, source?.uri, ...deps]
        return {
          builderId: p.runDetails.builder.id,
          invocationId: p.runDetails.metadata?.invocationId,
          sourceUris: uris.filter((u): u is string => typeof u === "string")
        }
      })
    : s.predicateType === SLSA_PROVENANCE_V02
      ? Effect.map(decode(SlsaV02, s.predicate, "SLSA v0.2 predicate"), (p) => ({
          builderId: p.builder.id,
          invocationId: p.metadata?.buildInvocationId,
          sourceUris: [
            p.invocation?.configSource?.uri,
            ...(p.materials ?? []).map((m) => m.uri)
          ].filter((u): u is string => typeof u === "string")
        }))
      : Effect.fail(
          bad("unsupported-format", `predicate type ${s.predicateType} is not SLSA provenance`)
        )

/** Inputs of {@link makeStatement}. */
export interface StatementInput {
  readonly subjects: Arr.NonEmptyReadonlyArray<{ readonly name: string; readonly sha256: string }>
  readonly builderId: string
  readonly buildType: string
  readonly externalParameters: Readonly<Record<string, unknown>>
  readonly internalParameters?: Readonly<Record<string, unknown>>
  readonly resolvedDependencies?: ReadonlyArray<{
    readonly uri: string
    readonly digest?: Record<string, string>
  }>
  readonly invocationId: string
  readonly startedOn?: Date
  readonly finishedOn?: Date
}

/**
 * An in-toto Statement v1 with a SLSA provenance v1 predicate.
 *
 * @category constructors
 */
export const makeStatement = (input: StatementInput): Statement => ({
  _type: STATEMENT_V1,
  subject: Arr.map(input.subjects, (s) => ({ name: s.name, digest: { sha256: s.sha256 } })),
  predicateType: SLSA_PROVENANCE_V1,
  predicate: {
    buildDefinition: {
      buildType: input.buildType,
      externalParameters: input.externalParameters,
      ...(input.internalParameters ? { internalParameters: input.internalParameters } : {}),
      ...(input.resolvedDependencies ? { resolvedDependencies: input.resolvedDependencies } : {})
    },
    runDetails: {
      builder: { id: input.builderId },
      metadata: {
        invocationId: input.invocationId,
        ...(input.startedOn ? { startedOn: input.startedOn.toISOString() } : {}),
        ...(input.finishedOn ? { finishedOn: input.finishedOn.toISOString() } : {})
      }
    }
  }
})

/** The statement as canonical JSON (RFC 8785), ready to sign. */
export const encodeStatement = (s: Statement): Uint8Array =>
  new Uint8Array(Buffer.from(canonicalize(s), "utf8"))
