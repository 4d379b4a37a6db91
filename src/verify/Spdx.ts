import { Effect, ParseResult, Schema } from "effect"
import { FormatError } from "./Finding.ts"

// No npm or PyPI package reachable here ships the SPDX 2.3 JSON schema
// (spdx-tools and the spdx-* npm packages do not), and relpub may not vendor
// files fetched from GitHub. So this is relpub's own Effect Schema of the
// fields SPDX 2.3 requires (spec chapters 6-8 and 11), not the official schema.

const SpdxId = Schema.String.pipe(Schema.pattern(/^SPDXRef-[A-Za-z0-9.-]+$/))
const NonEmpty = Schema.String.pipe(Schema.minLength(1))

const Checksum = Schema.Struct({
  algorithm: Schema.Literal(
    "SHA1",
    "SHA224",
    "SHA256",
    "SHA384",
    "SHA512",
    "SHA3-256",
    "SHA3-384",
    "SHA3-512",
    "BLAKE2b-256",
    "BLAKE2b-384",
    "BLAKE2b-512",
    "BLAKE3",
    "MD2",
    "MD4",
    "MD5",
    "MD6",
    "ADLER32"
  ),
  checksumValue: Schema.String.pipe(Schema.pattern(/^[0-9a-fA-F]+$/))
})

// §7: a package needs SPDXID, name and downloadLocation (a URL, VCS locator, NONE or NOASSERTION).
const Package = Schema.Struct({
  SPDXID: SpdxId,
  name: NonEmpty,
  downloadLocation: NonEmpty,
  versionInfo: Schema.optional(Schema.String),
  filesAnalyzed: Schema.optional(Schema.Boolean),
  checksums: Schema.optional(Schema.Array(Checksum)),
  licenseConcluded: Schema.optional(Schema.String),
  licenseDeclared: Schema.optional(Schema.String),
  copyrightText: Schema.optional(Schema.String)
})

// §8: a file needs SPDXID, fileName and checksums, one of them SHA1.
const File = Schema.Struct({
  SPDXID: SpdxId,
  fileName: NonEmpty,
  checksums: Schema.Array(Checksum).pipe(
    Schema.filter((cs) => cs.some((c) => c.algorithm === "SHA1") || "a file needs a SHA1 checksum")
  )
})

// §11: relationship types are upper-case words joined by "_" (DESCRIBES, CONTAINS, ...).
const Relationship = Schema.Struct({
  spdxElementId: NonEmpty,
  relationshipType: Schema.String.pipe(Schema.pattern(/^[A-Z]+(_[A-Z]+)*$/)),
  relatedSpdxElement: NonEmpty
})

/**
 * The required document-level fields of SPDX 2.3 JSON (§6), with packages,
 * files and relationships when present.
 *
 * @category models
 */
export const SpdxDocument = Schema.Struct({
  spdxVersion: Schema.Literal("SPDX-2.3"),
  dataLicense: Schema.Literal("CC0-1.0"),
  SPDXID: Schema.Literal("SPDXRef-DOCUMENT"),
  name: NonEmpty,
  documentNamespace: Schema.String.pipe(
    Schema.pattern(/^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s#]+$/, {
      message: () => "documentNamespace must be an absolute URI without a # part"
    })
  ),
  creationInfo: Schema.Struct({
    created: Schema.String.pipe(Schema.pattern(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/)),
    creators: Schema.NonEmptyArray(
      Schema.String.pipe(Schema.pattern(/^(Person|Organization|Tool): \S/))
    )
  }),
  packages: Schema.optional(Schema.Array(Package)),
  files: Schema.optional(Schema.Array(File)),
  relationships: Schema.optional(Schema.Array(Relationship))
})
export type SpdxDocument = typeof SpdxDocument.Type

const invalid = (detail: string) =>
  new FormatError({ format: "SPDX 2.3", reason: "schema-invalid", detail })

// Element ids must be unique, and relationships must name elements of the document
// (or of an external document, "DocumentRef-x:SPDXRef-y", or NONE / NOASSERTION).
const crossCheck = (doc: SpdxDocument): ReadonlyArray<string> => {
  const ids = [
    doc.SPDXID,
    ...(doc.packages ?? []).map((p) => p.SPDXID),
    ...(doc.files ?? []).map((f) => f.SPDXID)
  ]
  const known = new Set(ids)
  const problems = ids
    .filter((id, i) => ids.indexOf(id) !== i)
    .map((id) => `duplicate SPDXID ${id}`)
  const resolves = (id: string) =>
    known.has(id) || id === "NONE" || id === "NOASSERTION" || id.startsWith("DocumentRef-")
  for (const r of doc.relationships ?? []) {
    for (const id of [r.spdxElementId, r.relatedSpdxElement]) {
      if (!resolves(id)) {
        problems.push(`relationship ${r.relationshipType} names unknown element ${id}`)
      }
    }
  }
  return problems
}

/** Decodes and cross-checks an SPDX 2.3 JSON document. */
export const validateSpdx = (json: unknown): Effect.Effect<SpdxDocument, FormatError> =>
  Effect.gen(function* () {
    const doc = yield* Schema.decodeUnknown(SpdxDocument, { errors: "all" })(json).pipe(
      Effect.mapError((e) => invalid(ParseResult.TreeFormatter.formatErrorSync(e)))
    )
    const problems = crossCheck(doc)
    if (problems.length > 0) return yield* invalid(problems.join("; "))
    return doc
  })

/** The sbom id relpub records for an SPDX document: its namespace and SPDXID. */
export const spdxId = (doc: SpdxDocument): string => `${doc.documentNamespace}#${doc.SPDXID}`
