/**
 * Identifiers relpub records from a release's SBOM and provenance. Pure: the
 * caller reads the files. Full schema validation of these formats is the job
 * of `relpub verify`; here a file that cannot be read as JSON yields no id.
 */

const asRecord = (u: unknown): Record<string, unknown> | undefined =>
  typeof u === "object" && u !== null && !Array.isArray(u)
    ? (u as Record<string, unknown>)
    : undefined

const str = (u: unknown): string | undefined =>
  typeof u === "string" && u.length > 0 ? u : undefined

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** CycloneDX `serialNumber`, or SPDX `documentNamespace` (falling back to its `SPDXID`). */
export const sbomId = (text: string): string | undefined => {
  const doc = asRecord(parseJson(text))
  if (doc === undefined) return undefined
  return str(doc["serialNumber"]) ?? str(doc["documentNamespace"]) ?? str(doc["SPDXID"])
}

/**
 * The in-toto statement inside plain JSON, a DSSE envelope, or the first line of a JSON Lines file.
 */
export const provenanceStatement = (text: string): Record<string, unknown> | undefined => {
  const first =
    text
      .trimStart()
      .split("\n")
      .find((line) => line.trim() !== "") ?? ""
  const parsed = asRecord(parseJson(text)) ?? asRecord(parseJson(first))
  if (parsed === undefined) return undefined
  const payload = str(parsed["payload"])
  if (payload !== undefined && str(parsed["payloadType"]) !== undefined) {
    return asRecord(parseJson(Buffer.from(payload, "base64").toString("utf8")))
  }
  const envelope = asRecord(parsed["dsseEnvelope"])
  if (envelope !== undefined) {
    const inner = str(envelope["payload"])
    return inner === undefined
      ? undefined
      : asRecord(parseJson(Buffer.from(inner, "base64").toString("utf8")))
  }
  return parsed
}

/**
 * An id for the build a provenance statement describes: SLSA v1
 * `runDetails.metadata.invocationId`, v0.2 `metadata.buildInvocationId`, else
 * the predicate type and builder id.
 */
export const slsaId = (text: string): string | undefined => {
  const statement = provenanceStatement(text)
  if (statement === undefined) return undefined
  const predicate = asRecord(statement["predicate"])
  const v1 = asRecord(asRecord(asRecord(predicate?.["runDetails"])?.["metadata"]))?.["invocationId"]
  const v02 = asRecord(predicate?.["metadata"])?.["buildInvocationId"]
  const builder =
    str(asRecord(asRecord(predicate?.["runDetails"])?.["builder"])?.["id"]) ??
    str(asRecord(predicate?.["builder"])?.["id"])
  const type = str(statement["predicateType"])
  return (
    str(v1) ??
    str(v02) ??
    (type === undefined ? undefined : builder === undefined ? type : `${type}#${builder}`)
  )
}
