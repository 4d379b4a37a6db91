import { Console, Effect, Layer } from "effect"

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g

const strip = (args: ReadonlyArray<unknown>) =>
  args.map((a) => (typeof a === "string" ? a.replace(ANSI, "") : a))

/**
 * Help and messages without colour codes when output is not a terminal or
 * NO_COLOR is set (https://no-color.org).
 */
export const plainConsoleLayer: Layer.Layer<never> = Layer.unwrapEffect(
  Effect.map(Console.consoleWith(Effect.succeed), (current) =>
    Console.setConsole({
      ...current,
      log: (...args: ReadonlyArray<unknown>) => current.log(...strip(args)),
      error: (...args: ReadonlyArray<unknown>) => current.error(...strip(args))
    })
  )
)

export const wantsPlainOutput = (): boolean =>
  !process.stdout.isTTY || (process.env["NO_COLOR"] !== undefined && process.env["NO_COLOR"] !== "")
