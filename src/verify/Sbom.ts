import { Effect, Option } from "effect"
import { type Finding, invalid, valid } from "./Finding.ts"
import { spdxId, validateSpdx } from "./Spdx.ts"

/** @category models */
export type SbomFormat = "cyclonedx" | "spdx"

/** @category models */
export interface SbomReport {
  readonly finding: Finding
  readonly format: Option.Option<SbomFormat>
  readonly specVersion: Option.Option<string>
  /** CycloneDX `serialNumber`; SPDX `documentNamespace#SPDXID`. */
  readonly sbomId: Option.Option<string>
}

/** CycloneDX JSON spec versions relpub validates (JSON schemas shipped by the library). */
export const CYCLONEDX_VERSIONS = ["1.4", "1.5", "1.6", "1.7"] as const

interface JsonValidator {
  validate(data: string): Promise<unknown>
}

// Compiling a CycloneDX schema takes about 0.6 s, so each validator is made once
// per spec version; the library (and ajv) load only when an SBOM is checked.
const validators = new Map<string, Promise<JsonValidator>>()

type CycloneDxVersion = (typeof CYCLONEDX_VERSIONS)[number]

const cycloneDxValidator = (version: CycloneDxVersion): Promise<JsonValidator> => {
  let v = validators.get(version)
  if (v === undefined) {
    v = Promise.all([
      import("@cyclonedx/cyclonedx-library/Validation"),
      import("@cyclonedx/cyclonedx-library/Spec")
    ]).then(([Validation, Spec]) => {
      const specVersion = Object.values(Spec.Version).find((s) => s === version)
      return new Validation.JsonStrictValidator(specVersion ?? Spec.Version.v1dot6)
    })
    validators.set(version, v)
  }
  return v
}

const report = (
  finding: Finding,
  format?: SbomFormat,
  specVersion?: string,
  sbomId?: string
): SbomReport => ({
  finding,
  format: Option.fromNullable(format),
  specVersion: Option.fromNullable(specVersion),
  sbomId: Option.fromNullable(sbomId)
})

const summarize = (errors: unknown): string => {
  const list = Array.isArray(errors) ? errors.slice(0, 3) : [errors]
  return list
    .map((e) => {
      const err = e as { instancePath?: string; message?: string }
      if (err.message === undefined) return JSON.stringify(e)
      return `${err.instancePath || "/"} ${err.message}`
    })
    .join("; ")
}

const checkCycloneDx = (file: string, text: string, bom: Record<string, unknown>) =>
  Effect.gen(function* () {
    const version = CYCLONEDX_VERSIONS.find((v) => v === bom.specVersion)
    if (version === undefined) {
      const known = CYCLONEDX_VERSIONS.join(", ")
      const got = String(bom.specVersion)
      const detail = `${file}: CycloneDX specVersion ${got} is not one of ${known}`
      return report(invalid(file, "sbom", "unsupported-format", detail), "cyclonedx")
    }
    const validator = yield* Effect.promise(() => cycloneDxValidator(version))
    const errors = yield* Effect.promise(() => validator.validate(text))
    const serial = typeof bom.serialNumber === "string" ? bom.serialNumber : undefined
    if (errors !== null) {
      const detail = `${file}: not valid CycloneDX ${version}: ${summarize(errors)}`
      return report(invalid(file, "sbom", "schema-invalid", detail), "cyclonedx", version, serial)
    }
    const detail = `${file}: valid CycloneDX ${version} JSON`
    return report(valid(file, "sbom", detail), "cyclonedx", version, serial)
  })

const checkSpdx = (file: string, doc: Record<string, unknown>) =>
  Effect.gen(function* () {
    const version = String(doc.spdxVersion)
    if (version !== "SPDX-2.3") {
      return report(
        invalid(
          file,
          "sbom",
          "unsupported-format",
          `${file}: ${version} is not supported (SPDX-2.3 JSON is)`
        ),
        "spdx",
        version
      )
    }
    const checked = yield* Effect.either(validateSpdx(doc))
    if (checked._tag === "Left") {
      return report(
        invalid(
          file,
          "sbom",
          "schema-invalid",
          `${file}: not valid SPDX 2.3: ${checked.left.detail}`
        ),
        "spdx",
        version
      )
    }
    const detail = `${file}: valid SPDX 2.3 JSON (relpub's schema of the required fields)`
    return report(valid(file, "sbom", detail), "spdx", version, spdxId(checked.right))
  })

/**
 * Validates an SBOM file: CycloneDX JSON 1.4-1.7 against the official schema
 * (strict), or SPDX 2.3 JSON against relpub's schema of its required fields.
 *
 * @category verifiers
 */
export const validateSbom = (file: string, bytes: Uint8Array): Effect.Effect<SbomReport> =>
  Effect.gen(function* () {
    const text = Buffer.from(bytes).toString("utf8")
    const json = yield* Effect.option(Effect.try(() => JSON.parse(text) as unknown))
    if (Option.isNone(json)) {
      const xml = text.trimStart().startsWith("<")
      const reason = xml ? "unsupported-format" : "malformed"
      const what = xml ? "XML SBOMs are not supported" : "not JSON"
      return report(invalid(file, "sbom", reason, `${file}: ${what}`))
    }
    const doc = json.value
    if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
      return report(invalid(file, "sbom", "malformed", `${file}: not a JSON object`))
    }
    const obj = doc as Record<string, unknown>
    if (obj.bomFormat === "CycloneDX") return yield* checkCycloneDx(file, text, obj)
    if (typeof obj.spdxVersion === "string") return yield* checkSpdx(file, obj)
    const detail = `${file}: neither CycloneDX nor SPDX JSON`
    return report(invalid(file, "sbom", "unsupported-format", detail))
  })
