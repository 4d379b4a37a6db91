import * as nodePath from "node:path"
import { Options } from "@effect/cli"
import { Effect, Either, Layer, Option } from "effect"
import type { StorageError, UsageError } from "../domain/Errors.ts"
import * as AzureRepository from "../services/AzureRepository.ts"
import * as GcsRepository from "../services/GcsRepository.ts"
import * as Hasher from "../services/Hasher.ts"
import * as LocalRepository from "../services/LocalRepository.ts"
import type { Repository } from "../services/Repository.ts"
import {
  DEFAULT_REPOSITORY_PATH,
  parseRepository,
  type RepositoryTarget
} from "../services/RepositoryUrl.ts"
import * as S3Repository from "../services/S3Repository.ts"

export const DEFAULT_REPOSITORY = DEFAULT_REPOSITORY_PATH

/** Options every command that opens a repository takes. */
/** `--verbose`: main.ts lowers the log level for it; every command accepts it. */
export const verboseOption = Options.boolean("verbose").pipe(
  Options.withDescription("Log each step, with timings, on stderr")
)

export const repositoryOptions = {
  verbose: verboseOption,
  repository: Options.text("repository").pipe(
    Options.withDescription(
      `Repository: a directory or file:// URL (default ${DEFAULT_REPOSITORY}), ` +
        `s3://bucket/prefix, ` +
        "gs://bucket/prefix, az://account/container/prefix, or an Azure connection string"
    ),
    Options.optional
  ),
  repositoryType: Options.choice("repository-type", ["local", "s3", "gcs", "azure"]).pipe(
    Options.withDescription(
      "Repository type (original specification's flag), with --repository-bucket/-prefix/-path"
    ),
    Options.optional
  ),
  repositoryPath: Options.text("repository-path").pipe(
    Options.withDescription("Directory of a local repository (same as --repository PATH)"),
    Options.optional
  ),
  repositoryBucket: Options.text("repository-bucket").pipe(
    Options.withDescription("Bucket (S3, GCS) or container (Azure) for --repository-type"),
    Options.optional
  ),
  repositoryPrefix: Options.text("repository-prefix").pipe(
    Options.withDescription("Key prefix inside the bucket or container"),
    Options.optional
  ),
  endpoint: Options.text("endpoint").pipe(
    Options.withDescription(
      "Service endpoint URL (S3-compatible stores, emulators, sovereign clouds)"
    ),
    Options.optional
  ),
  region: Options.text("region").pipe(Options.withDescription("S3 region"), Options.optional),
  pathStyle: Options.boolean("path-style").pipe(
    Options.withDescription(
      "S3 path-style addressing (MinIO, SeaweedFS, Ceph and most S3-compatible stores)"
    )
  )
}

export interface RepositoryChoice {
  readonly repository: Option.Option<string>
  readonly repositoryType: Option.Option<string>
  readonly repositoryPath: Option.Option<string>
  readonly repositoryBucket: Option.Option<string>
  readonly repositoryPrefix: Option.Option<string>
  readonly endpoint: Option.Option<string>
  readonly region: Option.Option<string>
  readonly pathStyle: boolean
}

/** Resolve the repository flags to a target, or fail with a usage error naming the value. */
export const resolveRepository = (
  choice: RepositoryChoice
): Effect.Effect<RepositoryTarget, UsageError> =>
  Either.match(
    parseRepository({
      repository: Option.getOrUndefined(choice.repository),
      repositoryType: Option.getOrUndefined(choice.repositoryType),
      repositoryPath: Option.getOrUndefined(choice.repositoryPath),
      repositoryBucket: Option.getOrUndefined(choice.repositoryBucket),
      repositoryPrefix: Option.getOrUndefined(choice.repositoryPrefix),
      endpoint: Option.getOrUndefined(choice.endpoint),
      region: Option.getOrUndefined(choice.region),
      pathStyle: choice.pathStyle
    }),
    { onLeft: Effect.fail, onRight: Effect.succeed }
  )

/** The Repository layer for a target; cloud SDKs load only inside their layer. */
export const layerFor = (target: RepositoryTarget): Layer.Layer<Repository, StorageError> => {
  switch (target.kind) {
    case "local":
      return LocalRepository.layer(nodePath.resolve(target.path)).pipe(Layer.provide(Hasher.layer))
    case "s3":
      return S3Repository.layer(target)
    case "gcs":
      return GcsRepository.layer(target)
    case "azure":
      return AzureRepository.layer(target)
  }
}

export const repositoryLayer = (
  choice: RepositoryChoice
): Layer.Layer<Repository, UsageError | StorageError> =>
  Layer.unwrapEffect(Effect.map(resolveRepository(choice), layerFor))
