/**
 * Verifiers for release formats: raw, OpenPGP, minisign and Sigstore
 * signatures, DSSE envelopes, in-toto / SLSA provenance, CycloneDX and SPDX
 * SBOMs, and age-encrypted files. Each returns {@link Finding}s.
 *
 * @since 0.1.0
 */
export * as Age from "./Age.ts"
export * as Dsse from "./Dsse.ts"
export * as Files from "./Files.ts"
export * from "./Finding.ts"
export * as Minisign from "./Minisign.ts"
export * as OpenPgp from "./OpenPgp.ts"
export * as Provenance from "./Provenance.ts"
export * as RawSignature from "./RawSignature.ts"
export * as Sbom from "./Sbom.ts"
export * as Sigstore from "./Sigstore.ts"
export * as Spdx from "./Spdx.ts"
export * as Statement from "./Statement.ts"
export * as TrustedKeys from "./TrustedKeys.ts"
