import * as nodePath from "node:path"
import { fileURLToPath } from "node:url"
import { Options } from "@effect/cli"
import { Effect, Layer, Option } from "effect"
import { UsageError } from "../domain/Errors.ts"
import * as Hasher from "../services/Hasher.ts"
import * as LocalRepository from "../services/LocalRepository.ts"
import type { Repository } from "../services/Repository.ts"

export const DEFAULT_REPOSITORY = "./artifact-repository"

/** Options every command that opens a repository takes. */
export const repositoryOptions = {
  repository: Options.text("repository").pipe(
    Options.withDescription(`Repository: a directory or file:// URL (default ${DEFAULT_REPOSITORY})`),
    Options.optional
  ),
  repositoryType: Options.choice("repository-type", ["local"]).pipe(
    Options.withDescription("Repository type (original specification's flag); local is the embedded default"),
    Options.optional
  ),
  repositoryPath: Options.text("repository-path").pipe(
    Options.withDescription("Directory of a local repository (same as --repository PATH)"),
    Options.optional
  )
}

export interface RepositoryChoice {
  readonly repository: Option.Option<string>
  readonly repositoryType: Option.Option<string>
  readonly repositoryPath: Option.Option<string>
}

/** Resolve the repository flags to a directory (local) or fail with a usage error naming the value. */
export const resolveRepository = (choice: RepositoryChoice): Effect.Effect<{ kind: "local"; path: string }, UsageError> =>
  Effect.gen(function*() {
    const given = Option.getOrUndefined(choice.repository) ?? Option.getOrUndefined(choice.repositoryPath)
    if (Option.isSome(choice.repository) && Option.isSome(choice.repositoryPath)) {
      return yield* new UsageError({ message: "give either --repository or --repository-path, not both" })
    }
    const value = given ?? DEFAULT_REPOSITORY
    if (value.startsWith("file://")) {
      const path = yield* Effect.try({
        try: () => fileURLToPath(value),
        catch: () => new UsageError({ message: `--repository ${value}: not a valid file:// URL` })
      })
      return { kind: "local", path } as const
    }
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)
    if (scheme !== null) {
      return yield* new UsageError({
        message: `--repository ${value}: the ${scheme[1]}:// scheme is not supported by this build (use a directory or file:// URL)`
      })
    }
    return { kind: "local", path: nodePath.resolve(value) } as const
  })

export const repositoryLayer = (choice: RepositoryChoice): Layer.Layer<Repository, UsageError> =>
  Layer.unwrapEffect(
    Effect.map(resolveRepository(choice), (r) => LocalRepository.layer(r.path).pipe(Layer.provide(Hasher.layer)))
  )
