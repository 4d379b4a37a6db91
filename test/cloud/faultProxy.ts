// Typed access to scripts/faultproxy.mjs (plain JavaScript, so that a shell or
// any test can use it), as a scoped resource.
import { join, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { Effect } from "effect"

export type FaultMode = "pass" | "delay" | "reset" | "drop-response" | "respond" | "defer"

/** A request as the proxy saw it; `line` is e.g. "PUT /bucket/key?x-id=PutObject HTTP/1.1". */
export interface ProxyRequest {
  readonly line: string
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
}

/** What to do to the requests that match; see scripts/faultproxy.mjs. */
export interface FaultRule {
  readonly match?: RegExp
  readonly test?: (request: ProxyRequest) => boolean
  readonly mode: FaultMode
  /** At most this many requests (default: every match). */
  readonly times?: number
  /** delay: milliseconds before the request is forwarded; defer: after the client hung up. */
  readonly ms?: number
  /** defer: deliver after this long even if the client never hangs up (default 10 s). */
  readonly timeoutMs?: number
  /** reset: body bytes forwarded before both connections are reset. */
  readonly afterBytes?: number
  /** respond: the status and body answered instead of the server's. */
  readonly status?: number
  readonly body?: string
  /** Awaited before the rule acts (the request waits meanwhile). */
  readonly before?: (request: ProxyRequest) => Promise<void>
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`: give it to relpub as the endpoint. */
  readonly url: string
  readonly port: number
  /** Every request seen, in order, with the mode applied and ms since the start. */
  readonly log: ReadonlyArray<{ readonly line: string; readonly mode: FaultMode; readonly at: number }>
  readonly setRules: (rules: ReadonlyArray<FaultRule>) => void
  readonly addRule: (rule: FaultRule) => void
  /** Requests each rule has acted on, in the order the rules were given. */
  readonly hits: () => Array<number>
  readonly close: () => Promise<void>
}

interface FaultProxyModule {
  readonly startProxy: (options: {
    readonly target: string
    readonly rules?: ReadonlyArray<FaultRule>
  }) => Promise<FaultProxy>
}

const MODULE = pathToFileURL(
  join(resolve(import.meta.dirname, "..", ".."), "scripts", "faultproxy.mjs")
).href

/** A proxy in front of `target` (an http URL), closed with the scope. */
export const scopedProxy = (target: string, rules: ReadonlyArray<FaultRule> = []) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      (import(MODULE) as Promise<FaultProxyModule>).then((m) => m.startProxy({ target, rules }))
    ),
    (proxy) => Effect.promise(() => proxy.close())
  )

/** The request lines the proxy saw that match `pattern`. */
export const seen = (proxy: FaultProxy, pattern: RegExp): Array<string> =>
  proxy.log.map((l) => l.line).filter((l) => pattern.test(l))
