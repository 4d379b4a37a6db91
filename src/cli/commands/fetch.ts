import { Args, Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import { UsageError } from "../../domain/Errors.ts"
import { ExitCode } from "../../domain/ExitCode.ts"
import { setExitCode } from "../exit.ts"
import { repositoryLayer, repositoryOptions } from "../repository.ts"

const fetchOptions = {
  version: Args.text({ name: "version" }).pipe(
    Args.withDescription("Published version to download")
  ),
  ...repositoryOptions,
  to: Options.text("to").pipe(
    Options.withDescription(
      "Destination directory; must not exist or be empty, and stays so unless all checks pass"
    )
  ),
  trustedKeys: Options.directory("trusted-keys", { exists: "yes" }).pipe(
    Options.withDescription(
      "Directory of trusted PEM public keys; the release record must be signed by one"
    )
  ),
  allowYanked: Options.boolean("allow-yanked").pipe(
    Options.withDescription(
      "Fetch the version even if it was yanked (relpub yank); without it a yanked version exits 33"
    )
  ),
  json: Options.boolean("json").pipe(Options.withDescription("Print what was fetched as JSON"))
}

type FetchArgs = Command.Command.ParseConfig<typeof fetchOptions>

const refuse = (message: string, code: number) =>
  Effect.zipRight(Console.error(`relpub: ${message}`), setExitCode(code))

const handler = (args: FetchArgs) =>
  Effect.gen(function* () {
    // Trusted keys pull in openpgp: load them, and the fetcher, only when fetching.
    const { loadTrustedKeys } = yield* Effect.promise(() => import("../../verify/TrustedKeys.ts"))
    const { fetchRelease } = yield* Effect.promise(() => import("../../services/Fetcher.ts"))
    const keys = yield* loadTrustedKeys(args.trustedKeys).pipe(
      Effect.mapError((e) => new UsageError({ message: `--trusted-keys: ${e.message}` }))
    )
    if (keys.raw.length === 0) {
      return yield* new UsageError({
        message: `--trusted-keys ${args.trustedKeys} holds no PEM public key`
      })
    }
    const outcome = yield* fetchRelease({
      version: args.version,
      to: args.to,
      keys: keys.raw,
      allowYanked: args.allowYanked
    })
    if (outcome.yanked !== null) {
      yield* Console.error(
        `relpub: warning: ${outcome.version} was yanked at ${outcome.yanked.at} ` +
          `(${outcome.yanked.reason})`
      )
    }
    if (args.json) return yield* Console.log(JSON.stringify(outcome, null, 2))
    yield* Console.log(
      [
        ...outcome.files.map((f) => `${f.sha256}  ${f.path}`),
        `fetched ${outcome.version} into ${outcome.to}: ${outcome.files.length} files, ` +
          `${outcome.size_bytes} bytes, release hash ${outcome.sha256}; ` +
          `release.json: ${outcome.signature}`
      ].join("\n")
    )
  }).pipe(
    Effect.catchTags({
      FetchRejected: (e) => refuse(e.message, ExitCode.VerificationFailed),
      ReleaseNotFound: (e) => refuse(e.message, ExitCode.MetadataMissing),
      ReleaseYanked: (e) => refuse(e.message, ExitCode.MetadataMissing)
    }),
    Effect.provide(repositoryLayer(args))
  )

/**
 * `relpub fetch <version>`: download a release, check its signed record and
 * every file, and only then place the files in `--to` (docs/verify-repo.md).
 * Exit 30 on a failed check (nothing written), 33 when the version is not
 * published or is yanked (unless `--allow-yanked`), 36 on storage errors.
 *
 * @category commands
 */
export const fetchCommand = Command.make("fetch", fetchOptions, handler).pipe(
  Command.withDescription(
    "Download a published release and verify it (signed release record, SHA-256 and size " +
      "of every file) before anything is written to --to. A yanked version is refused unless " +
      "--allow-yanked. Exit 30 verification failed, 33 not published or yanked, 36 storage"
  )
)
