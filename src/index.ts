/**
 * relpub as a library: the publish program, its services and their layers,
 * for use from other Effect programs, from tests, and from plain async code
 * (see `publishRelease`).
 */
export * from "./domain/Checks.ts"
export * from "./domain/Errors.ts"
export * from "./domain/ExitCode.ts"
export * from "./domain/Manifest.ts"
export * from "./domain/Policy.ts"
export * from "./domain/Records.ts"
export * from "./domain/Report.ts"
export * from "./domain/Results.ts"
export * from "./domain/Version.ts"
export * as Hasher from "./services/Hasher.ts"
export * as LocalRepository from "./services/LocalRepository.ts"
export * as Maintenance from "./services/Maintenance.ts"
export * as MemoryRepository from "./services/MemoryRepository.ts"
export * as Publisher from "./services/Publisher.ts"
export * as ReleaseReader from "./services/ReleaseReader.ts"
export { Repository, type RepositoryShape } from "./services/Repository.ts"
export * as Runtime from "./services/Runtime.ts"
export * as Signer from "./services/Signer.ts"
export * as Yank from "./services/Yank.ts"
export { publishRelease } from "./promise.ts"
