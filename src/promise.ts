import * as fs from "node:fs"
import { Effect, Exit, Layer } from "effect"
import { exitCodeOf, type PublishError } from "./domain/Errors.ts"
import type { ExitCode } from "./domain/ExitCode.ts"
import { defaultPolicy, type Policy } from "./domain/Policy.ts"
import * as Hasher from "./services/Hasher.ts"
import * as LocalRepository from "./services/LocalRepository.ts"
import { publish, type PublishOutcome } from "./services/Publisher.ts"
import * as ReleaseReader from "./services/ReleaseReader.ts"
import * as Runtime from "./services/Runtime.ts"
import * as Signer from "./services/Signer.ts"

export interface PublishReleaseOptions {
  readonly releaseDir: string
  readonly version: string
  /** Local repository directory (default ./artifact-repository). */
  readonly repository?: string
  readonly policy?: Policy
  readonly verificationResultFile?: string
  readonly validationResultFile?: string
  /** PEM private key that signs the release and audit records. */
  readonly signingKeyFile?: string
  readonly dryRun?: boolean
}

export type PublishReleaseResult =
  | { readonly ok: true; readonly exitCode: 0; readonly outcome: PublishOutcome }
  | { readonly ok: false; readonly exitCode: ExitCode; readonly error: PublishError }

/**
 * Publish from plain async code into a local repository. Never rejects for
 * an expected failure: the result carries the exit code and the typed error.
 */
export const publishRelease = async (
  options: PublishReleaseOptions
): Promise<PublishReleaseResult> => {
  const signer =
    options.signingKeyFile === undefined
      ? Signer.layerNone
      : Signer.layerFromPem(options.signingKeyFile, fs.readFileSync(options.signingKeyFile, "utf8"))
  const layers = Layer.mergeAll(
    LocalRepository.layer(options.repository ?? "./artifact-repository"),
    ReleaseReader.layer,
    Runtime.layer,
    signer
  ).pipe(Layer.provideMerge(Hasher.layer))
  const exit = await Effect.runPromiseExit(
    publish({
      releaseDir: options.releaseDir,
      version: options.version,
      policy: options.policy ?? defaultPolicy("strict"),
      verificationResultFile: options.verificationResultFile,
      validationResultFile: options.validationResultFile,
      dryRun: options.dryRun
    }).pipe(Effect.provide(layers))
  )
  if (Exit.isSuccess(exit)) return { ok: true, exitCode: 0, outcome: exit.value }
  const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  if (failure === undefined) throw new Error(`relpub: unexpected failure`, { cause: exit.cause })
  return { ok: false, exitCode: exitCodeOf(failure), error: failure }
}
