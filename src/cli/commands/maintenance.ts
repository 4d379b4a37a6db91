import { Command, Options } from "@effect/cli"
import { Console, Effect, Layer } from "effect"
import { KeyError } from "../../domain/Errors.ts"
import { ExitCode } from "../../domain/ExitCode.ts"
import * as Hasher from "../../services/Hasher.ts"
import { doctor, repair } from "../../services/Maintenance.ts"
import * as Runtime from "../../services/Runtime.ts"
import * as Signer from "../../services/Signer.ts"
import { setExitCode } from "../exit.ts"
import { signerFromFile } from "../inputs.ts"
import { repositoryLayer, repositoryOptions } from "../repository.ts"

const json = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of text"))
const layers = (
  args: Parameters<typeof repositoryLayer>[0],
  signer: Layer.Layer<Signer.Signer, KeyError> = Signer.layerNone
) =>
  Layer.mergeAll(repositoryLayer(args), Runtime.layer, signer).pipe(
    Layer.provideMerge(Hasher.layer)
  )

export const repairCommand = Command.make(
  "repair",
  {
    ...repositoryOptions,
    force: Options.boolean("force").pipe(
      Options.withDescription(
        "Also roll back claims that are not stale (only when no publish is running)"
      )
    ),
    signingKey: Options.file("signing-key", { exists: "yes" }).pipe(
      Options.withDescription(
        "PEM private key: signs the index and the audit records repair writes"
      ),
      Options.optional
    ),
    json
  },
  (args) =>
    Effect.gen(function* () {
      const report = yield* repair({ force: args.force })
      if (args.json) return yield* Console.log(JSON.stringify(report, null, 2))
      const list = (xs: ReadonlyArray<string>) => (xs.length === 0 ? "none" : xs.join(", "))
      yield* Console.log(
        [
          `rolled back:   ${list(report.rolledBack)}`,
          `cleaned up:    ${list(report.cleaned)}`,
          `indexed:       ${list(report.indexed)}`,
          `still running: ${list(report.liveClaims)}`,
          ...(report.incomplete.length > 0
            ? [
                `incomplete:    ${list(report.incomplete)} (records whose files are missing; ` +
                  `not indexed)`
              ]
            : []),
          report.auditKey === undefined ? "nothing to record" : `audit record:  ${report.auditKey}`
        ].join("\n")
      )
    }).pipe(Effect.provide(layers(args, signerFromFile(args.signingKey))))
).pipe(
  Command.withDescription(
    "Roll back publishes that were killed, clean up leftovers, finish interrupted index updates"
  )
)

export const doctorCommand = Command.make("doctor", { ...repositoryOptions, json }, (args) =>
  Effect.gen(function* () {
    const result = yield* doctor
    const failed = result.probes.filter((p) => !p.ok)
    if (args.json) yield* Console.log(JSON.stringify(result, null, 2))
    else {
      const width = Math.max(...result.probes.map((p) => p.name.length))
      yield* Console.log(
        result.probes
          .map((p) => `${p.ok ? "ok  " : "FAIL"}  ${p.name.padEnd(width)}  ${p.detail}`)
          .join("\n")
      )
    }
    if (failed.length > 0) yield* setExitCode(ExitCode.RepositoryFailed)
  }).pipe(Effect.provide(layers(args)))
).pipe(Command.withDescription("Probe the repository for the guarantees publishing relies on"))
