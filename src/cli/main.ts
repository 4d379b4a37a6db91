import { Command, ValidationError } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Console, Effect, Exit, Layer, Logger, LogLevel, Ref } from "effect"
import { exitCodeOf, type PublishError } from "../domain/Errors.ts"
import { ExitCode } from "../domain/ExitCode.ts"
import { rewriteArgv } from "./argv.ts"
import { listCommand, showCommand } from "./commands/catalog.ts"
import { fetchCommand } from "./commands/fetch.ts"
import { keygenCommand } from "./commands/keygen.ts"
import { doctorCommand, repairCommand } from "./commands/maintenance.ts"
import { prepareCommand } from "./commands/prepare.ts"
import { publishCommand } from "./commands/publish.ts"
import { verifyCommand } from "./commands/verify.ts"
import { verifyRepoCommand } from "./commands/verifyRepo.ts"
import { yankCommand } from "./commands/yank.ts"
import { CliExit, layer as exitLayer, setExitCode } from "./exit.ts"
import { plainConsoleLayer, wantsPlainOutput } from "./plainConsole.ts"

export const VERSION = "0.1.0"

const relpub = Command.make("relpub").pipe(
  Command.withDescription(
    "Publish verified releases into artifact repositories, all or nothing. " +
      "Exit codes: 0 ok, 2 usage, 30 verification, 31 validation, 32 version exists, " +
      "33 metadata, 34 signatures, 35 encryption, 36 repository, 37 rolled back, 38 policy " +
      "rule, 39 unexpected (docs/exit-codes.md)."
  ),
  Command.withSubcommands([
    publishCommand,
    verifyCommand,
    prepareCommand,
    listCommand,
    showCommand,
    yankCommand,
    verifyRepoCommand,
    fetchCommand,
    repairCommand,
    doctorCommand,
    keygenCommand
  ])
)

const cli = Command.run(relpub, { name: "relpub", version: VERSION })

// Logs go to stderr so stdout stays a clean report.
const stderrLogger = Logger.replace(
  Logger.defaultLogger,
  Logger.prettyLogger({ stderr: true, colors: false, mode: "tty" })
)

const program = (argv: ReadonlyArray<string>) =>
  cli(rewriteArgv(argv)).pipe(
    Effect.catchIf(ValidationError.isValidationError, () => setExitCode(ExitCode.Usage)),
    Effect.catchAll((e: PublishError) =>
      Effect.zipRight(Console.error(`relpub: ${e.message}`), setExitCode(exitCodeOf(e)))
    ),
    Logger.withMinimumLogLevel(argv.includes("--verbose") ? LogLevel.Debug : LogLevel.Warning)
  )

export const main = (argv: ReadonlyArray<string>) => {
  let exitCode: number = ExitCode.Unexpected
  const run = Effect.gen(function* () {
    yield* program(argv)
    exitCode = yield* Ref.get(yield* CliExit)
  }).pipe(
    Effect.provide(Layer.mergeAll(NodeContext.layer, exitLayer, stderrLogger)),
    Effect.provide(wantsPlainOutput() ? plainConsoleLayer : Layer.empty)
  )
  NodeRuntime.runMain(run, {
    disableErrorReporting: false,
    disablePrettyLogger: true,
    teardown: (exit, onExit) => {
      if (Exit.isSuccess(exit)) return onExit(exitCode)
      onExit(Cause.isInterruptedOnly(exit.cause) ? 130 : ExitCode.Unexpected)
    }
  })
}

main(process.argv)
