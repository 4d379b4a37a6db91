import { randomUUID } from "node:crypto"
import * as os from "node:os"
import { Context, Effect, Layer } from "effect"

/**
 * Identity of this process and fresh ids: what makes two runs differ, so
 * tests can fix it.
 *
 * @category models
 */
export interface RuntimeInfoShape {
  readonly host: string
  readonly pid: number
  readonly newId: Effect.Effect<string>
  /** Whether a process on this host is still running (claims of dead publishers are stale). */
  readonly isAlive: (pid: number) => Effect.Effect<boolean>
}

/** @category tags */
export class RuntimeInfo extends Context.Tag("relpub/services/RuntimeInfo")<
  RuntimeInfo,
  RuntimeInfoShape
>() {}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

export const layer: Layer.Layer<RuntimeInfo> = Layer.sync(RuntimeInfo, () => ({
  host: os.hostname(),
  pid: process.pid,
  newId: Effect.sync(() => randomUUID()),
  isAlive: (pid) => Effect.sync(() => alive(pid))
}))

/** Fixed host and pid, ids `tx-0001`, `tx-0002`, ...: for deterministic tests. */
export const layerFixed = (options: { host?: string; pid?: number; alive?: boolean } = {}) =>
  Layer.sync(RuntimeInfo, () => {
    let n = 0
    return {
      host: options.host ?? "test-host",
      pid: options.pid ?? 4242,
      newId: Effect.sync(() => `tx-${String(++n).padStart(4, "0")}`),
      isAlive: () => Effect.succeed(options.alive ?? true)
    }
  })
