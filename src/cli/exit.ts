import { Context, Effect, Layer, Ref } from "effect"

/** The exit code the CLI will end with; commands set it, main reads it. */
export class CliExit extends Context.Tag("relpub/cli/CliExit")<CliExit, Ref.Ref<number>>() {}

export const layer: Layer.Layer<CliExit> = Layer.effect(CliExit, Ref.make(0))

export const setExitCode = (code: number) => Effect.flatMap(CliExit, (ref) => Ref.set(ref, code))
