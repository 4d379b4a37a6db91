import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Layer } from "effect"
import { ExitCode } from "../../domain/ExitCode.ts"
import * as Hasher from "../../services/Hasher.ts"
import * as Runtime from "../../services/Runtime.ts"
import { yank, type YankOutcome } from "../../services/Yank.ts"
import { setExitCode } from "../exit.ts"
import { signerFromFile } from "../inputs.ts"
import { repositoryLayer, repositoryOptions } from "../repository.ts"

const yankOptions = {
  version: Args.text({ name: "version" }).pipe(
    Args.withDescription("Published version to yank (1.4.0 and v1.4.0 name the same release)")
  ),
  ...repositoryOptions,
  reason: Options.text("reason").pipe(
    Options.withDescription("Why (required): recorded in index.json and in the signed audit record")
  ),
  undo: Options.boolean("undo").pipe(
    Options.withDescription("Un-yank: remove the mark, recorded as an 'unyank' audit record")
  ),
  signingKey: Options.file("signing-key", { exists: "yes" }).pipe(
    Options.withDescription(
      "PEM private key: signs the audit record and the index (required when the index is signed)"
    ),
    Options.optional
  ),
  json: Options.boolean("json").pipe(Options.withDescription("Print the outcome as JSON"))
}

type YankArgs = Command.Command.ParseConfig<typeof yankOptions>

const describe = (o: YankOutcome): string => {
  switch (o.status) {
    case "yanked":
      return `yanked ${o.version}: ${o.yanked?.reason} (audit record ${o.audit_record})`
    case "unyanked":
      return `un-yanked ${o.version} (audit record ${o.audit_record})`
    case "already-yanked":
      return (
        `${o.version} is already yanked (since ${o.yanked?.at}: ${o.yanked?.reason}); ` +
        `nothing changed`
      )
    case "not-yanked":
      return `${o.version} is not yanked; nothing changed`
  }
}

const handler = (args: YankArgs) =>
  Effect.gen(function* () {
    const outcome = yield* yank({ version: args.version, reason: args.reason, undo: args.undo })
    yield* Console.log(args.json ? JSON.stringify(outcome, null, 2) : describe(outcome))
  }).pipe(
    Effect.catchTag("NotPublished", (e) =>
      Effect.zipRight(Console.error(`relpub: ${e.message}`), setExitCode(ExitCode.MetadataMissing))
    ),
    Effect.provide(
      Layer.mergeAll(repositoryLayer(args), Runtime.layer, signerFromFile(args.signingKey)).pipe(
        Layer.provideMerge(Hasher.layer)
      )
    )
  )

/**
 * `relpub yank <version> --reason TEXT`: mark a published version yanked in
 * the index, with a signed `yank` audit record; its files stay as they are.
 * `--undo` removes the mark. Exit 0 (also when there was nothing to change),
 * 33 when the version is not published, 2 on a wrong command line or a signed
 * index without `--signing-key`, 36 on storage errors.
 *
 * @category commands
 */
export const yankCommand = Command.make("yank", yankOptions, handler).pipe(
  Command.withDescription(
    "Mark a published version yanked (its files are kept; fetch refuses it without " +
      "--allow-yanked), recorded in the index and a signed audit record; --undo un-yanks. " +
      "Exit 0 ok or already so, 2 usage (or a signed index without --signing-key), 33 not " +
      "published, 36 storage"
  )
)
