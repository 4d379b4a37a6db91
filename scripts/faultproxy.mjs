// A TCP proxy for fault-injection tests: listens on 127.0.0.1 (a free port),
// forwards every connection to one HTTP/1.1 server, and follows the request
// framing (Content-Length or chunked) so that a rule can act on one request:
//
//   const proxy = await startProxy({ target: "http://127.0.0.1:8333" })
//   proxy.setRules([{ match: /^PUT .*\/release\.json/, mode: "drop-response", times: 1 }])
//   ... point the client at proxy.url ...
//   await proxy.close()
//
// Modes, each applied to at most `times` requests (default: every match):
//   pass            forward as is (the default for requests no rule matches)
//   delay           wait `ms` before forwarding the request (a slow answer)
//   reset           forward the head and `afterBytes` bytes of the body, then
//                   reset both connections (a reset mid-upload); only requests
//                   whose body is longer than `afterBytes` match
//   drop-response   forward the whole request, let the server answer, then
//                   reset the client's connection without passing the answer
//                   on (the response of a write that succeeded is lost)
//   respond         answer `status` (default 503, body `body`) without reaching
//                   the server, then close the connection
//   defer           hold the whole request, answer nothing, and deliver it to
//                   the server `ms` after the client hangs up (or after
//                   `timeoutMs`, default 10 s): a request still on the wire
//                   when its sender gave up, which the server executes anyway
// A rule matches when `match` (a RegExp or string, tested on the request line,
// e.g. "PUT /bucket/key?x-id=PutObject HTTP/1.1") and `test(request)` both hold.
// `before(request)`, if given, is awaited before the rule acts.
// Built-ins only, so that any test (or a shell) can use it.
import net from "node:net"
import { setTimeout as sleep } from "node:timers/promises"

const CRLF2 = Buffer.from("\r\n\r\n")
const MAX_HEAD_BYTES = 1024 * 1024
const STATUS_TEXT = {
  400: "Bad Request", 403: "Forbidden", 500: "Internal Server Error", 503: "Service Unavailable"
}

function targetOf(target) {
  if (typeof target === "string") {
    const url = new URL(target)
    return { host: url.hostname, port: Number(url.port || (url.protocol === "https:" ? 443 : 80)) }
  }
  return { host: target.host ?? "127.0.0.1", port: Number(target.port) }
}

function parseHead(head) {
  const lines = head.toString("latin1").split("\r\n")
  const line = lines[0]
  const [method = "", path = ""] = line.split(" ")
  const headers = {}
  for (const l of lines.slice(1)) {
    const colon = l.indexOf(":")
    if (colon > 0) headers[l.slice(0, colon).trim().toLowerCase()] = l.slice(colon + 1).trim()
  }
  return { line, method, path, headers }
}

// A reset cuts a body: it applies only to requests whose body is longer than `afterBytes`.
const cuttable = (rule, { headers }) =>
  rule.mode !== "reset" || /chunked/i.test(headers["transfer-encoding"] ?? "") ||
  Number(headers["content-length"] ?? 0) > (rule.afterBytes ?? 0)

const matches = (rule, request) => {
  const pattern = rule.match === undefined ? undefined
    : rule.match instanceof RegExp ? rule.match : new RegExp(rule.match)
  return (pattern === undefined || pattern.test(request.line)) && cuttable(rule, request) &&
    (rule.test?.(request) ?? true)
}

const destroyHard = (socket) => {
  if (socket.destroyed) return
  if (typeof socket.resetAndDestroy === "function" && socket.readyState !== "opening") socket.resetAndDestroy()
  else socket.destroy()
}

/**
 * Starts the proxy. Resolves { url, host, port, setRules, addRule, log, hits, connections, close }.
 * `log` lists every request seen: { line, mode, at } (at: ms since start).
 */
export async function startProxy({ target, rules = [], host = "127.0.0.1" } = {}) {
  const upstreamAddress = targetOf(target)
  let entries = []
  const log = []
  const sockets = new Set()
  const started = Date.now()
  let connections = 0

  const setRules = (next) => {
    entries = next.map((rule) => ({ rule, hits: 0 }))
  }
  setRules(rules)

  // The first rule that matches and has occurrences left; it is counted.
  const choose = (request) => {
    for (const entry of entries) {
      if (entry.hits >= (entry.rule.times ?? Infinity)) continue
      if (!matches(entry.rule, request)) continue
      entry.hits++
      return entry.rule
    }
    return undefined
  }

  const track = (socket) => {
    sockets.add(socket)
    socket.once("close", () => sockets.delete(socket))
    socket.on("error", () => {})
    socket.setNoDelay(true)
  }

  const handle = async (client) => {
    connections++
    const upstream = net.connect(upstreamAddress)
    track(client)
    track(upstream)
    let dead = false
    const kill = () => {
      if (dead) return
      dead = true
      destroyHard(client)
      destroyHard(upstream)
    }
    // A request held by "defer": its bytes, and whether all of them arrived.
    let deferred
    client.once("close", () => { if (!deferred && !upstream.destroyed) upstream.destroy() })
    upstream.once("close", () => { if (!client.destroyed) client.end() })

    // The request being forwarded, and how its answer is treated.
    let current
    let swallowing = false
    let answered = false
    const finishDrop = () => {
      if (swallowing && answered && current?.complete) kill()
    }

    upstream.on("data", (data) => {
      if (deferred) return
      if (!swallowing) {
        if (!client.write(data)) {
          upstream.pause()
          client.once("drain", () => upstream.resume())
        }
        return
      }
      // An interim "100 Continue" is passed on, or the client never sends its body.
      if (!current?.complete && /^HTTP\/1\.[01] 100/.test(data.toString("latin1", 0, 16))) {
        const end = data.indexOf(CRLF2)
        client.write(end < 0 ? data : data.subarray(0, end + 4))
        if (end < 0 || end + 4 === data.length) return
      }
      answered = true
      finishDrop()
    })

    const write = async (bytes) => {
      if (bytes.length === 0 || dead) return
      if (!upstream.write(bytes)) {
        await new Promise((resolve) => {
          const done = () => {
            upstream.off("drain", done)
            upstream.off("close", done)
            resolve()
          }
          upstream.on("drain", done)
          upstream.on("close", done)
        })
      }
    }

    const respond = (status, body = `fault proxy: ${status}\n`) => {
      const text = STATUS_TEXT[status] ?? "Error"
      client.end(
        `HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
      )
      dead = true
      upstream.destroy()
    }

    // Deliver a deferred request on our own, once its sender is gone, and drop the answer.
    const deliver = async () => {
      const { rule, chunks } = deferred
      await sleep(rule.ms ?? 0)
      const reply = new Promise((resolve) => {
        upstream.once("data", resolve)
        upstream.once("close", resolve)
        setTimeout(resolve, 30_000).unref()
      })
      upstream.write(Buffer.concat(chunks))
      await reply
      kill()
    }

    // The request's body bytes (after the head): forwarded, cut, held or swallowed by its rule.
    const body = async (bytes) => {
      if (deferred) {
        deferred.chunks.push(Buffer.from(bytes))
        return
      }
      const rule = current.rule
      if (rule?.mode === "respond") return
      if (rule?.mode === "reset") {
        const room = (rule.afterBytes ?? 0) - current.bodyBytes
        if (bytes.length >= room) {
          await write(bytes.subarray(0, Math.max(0, room)))
          await sleep(20)
          kill()
          return
        }
      }
      current.bodyBytes += bytes.length
      await write(bytes)
    }

    const complete = async () => {
      current.complete = true
      if (deferred) {
        deferred.complete = true
        // The sender normally gives up first; if it does not, deliver anyway.
        setTimeout(() => client.destroy(), deferred.rule.timeoutMs ?? 10_000).unref()
        return
      }
      const rule = current.rule
      if (rule?.mode === "respond") respond(rule.status ?? 503, rule.body)
      else if (rule?.mode === "reset") kill()
      else finishDrop()
    }

    const begin = async (head) => {
      const request = parseHead(head)
      const rule = choose(request)
      current = { ...request, rule, bodyBytes: 0, complete: false }
      log.push({ line: request.line, mode: rule?.mode ?? "pass", at: Date.now() - started })
      if (rule?.before) await rule.before(request)
      if (rule?.mode === "delay") await sleep(rule.ms ?? 0)
      if (rule?.mode === "defer") {
        deferred = { rule, chunks: [Buffer.from(head)], complete: false }
        return
      }
      if (rule?.mode === "respond") {
        if (/100-continue/i.test(request.headers.expect ?? "")) respond(rule.status ?? 503, rule.body)
        return
      }
      if (rule?.mode === "drop-response") {
        swallowing = true
        answered = false
      }
      await write(head)
      if (rule?.mode === "reset" && (rule.afterBytes ?? 0) <= 0) kill()
    }

    // Client -> server: split the byte stream into requests.
    let phase = "head"
    let pending = Buffer.alloc(0)
    let remaining = 0 // body bytes (content-length) or chunk bytes incl. CRLF (chunked)
    let line = "" // chunk-size or trailer line being read
    try {
      for await (const chunk of client) {
        let data = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk
        pending = Buffer.alloc(0)
        while (data.length > 0 && !dead) {
          if (phase === "passthrough") {
            await write(data)
            data = Buffer.alloc(0)
          } else if (phase === "head") {
            const end = data.indexOf(CRLF2)
            if (end < 0) {
              if (data.length > MAX_HEAD_BYTES) phase = "passthrough"
              else {
                pending = data
                data = Buffer.alloc(0)
              }
              continue
            }
            const head = data.subarray(0, end + 4)
            data = data.subarray(end + 4)
            await begin(head)
            const { headers } = current
            if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
              phase = "chunk-size"
              line = ""
            } else if (Number(headers["content-length"] ?? 0) > 0) {
              phase = "body"
              remaining = Number(headers["content-length"])
            } else {
              await complete()
              phase = "head"
            }
          } else if (phase === "body" || phase === "chunk-data") {
            const n = Math.min(remaining, data.length)
            await body(data.subarray(0, n))
            data = data.subarray(n)
            remaining -= n
            if (remaining > 0) continue
            if (phase === "body") {
              await complete()
              phase = "head"
            } else {
              phase = "chunk-size"
              line = ""
            }
          } else {
            // chunk-size or trailer: one line at a time.
            const nl = data.indexOf(10)
            const take = nl < 0 ? data.length : nl + 1
            line += data.toString("latin1", 0, take)
            await body(data.subarray(0, take))
            data = data.subarray(take)
            if (nl < 0) continue
            const text = line.trim()
            line = ""
            if (phase === "chunk-size") {
              const size = parseInt(text.split(";")[0], 16)
              if (size > 0) {
                phase = "chunk-data"
                remaining = size + 2
              } else phase = "trailer"
            } else if (text === "") {
              await complete()
              phase = "head"
            }
          }
        }
        if (dead) break
      }
      if (deferred?.complete) await deliver()
      else if (!dead) upstream.end()
    } catch {
      if (deferred?.complete) await deliver()
      else kill()
    }
  }

  const server = net.createServer((client) => void handle(client))
  await new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, host, resolve)
  })
  const { port } = server.address()
  return {
    host,
    port,
    url: `http://${host}:${port}`,
    log,
    setRules,
    addRule: (rule) => entries.push({ rule, hits: 0 }),
    /** How many requests each rule (in the order given) has acted on. */
    hits: () => entries.map((e) => e.hits),
    connections: () => connections,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
      })
  }
}
