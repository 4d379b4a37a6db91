// Loopback networking helpers for the test servers: free ports, a bounded
// HTTP request, and the two request signatures needed to create a bucket
// (AWS SigV4, Azure SharedKey) with node built-ins only.
import { createHash, createHmac } from "node:crypto"
import { request as httpRequest } from "node:http"
import { createServer } from "node:net"

export const HOST = "127.0.0.1"

// Asks the OS for `count` distinct free ports on 127.0.0.1. All listeners stay
// open until every port is known, so one call never returns a duplicate.
export async function freePorts(count) {
  const servers = []
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer()
      servers.push(server)
      await new Promise((resolve, reject) => {
        server.once("error", reject)
        server.listen({ host: HOST, port: 0, exclusive: true }, resolve)
      })
    }
    return servers.map((s) => s.address().port)
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(() => resolve()))))
  }
}

// One HTTP request to a loopback URL; resolves {status, headers, body} or
// rejects on a network error or after timeoutMs.
export function request(url, { method = "GET", headers = {}, body, timeoutMs = 5000 } = {}) {
  const target = new URL(url)
  if (target.hostname !== HOST) return Promise.reject(new Error(`refusing non-loopback URL ${url}`))
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      target,
      { method, headers: { ...headers, ...(body ? { "content-length": Buffer.byteLength(body) } : {}) } },
      (res) => {
        const chunks = []
        res.on("data", (c) => chunks.push(c))
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }))
        res.on("error", reject)
      }
    )
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${method} ${url}`)))
    req.on("error", reject)
    req.end(body)
  })
}

const sha256Hex = (data) => createHash("sha256").update(data).digest("hex")
const hmac = (key, data) => createHmac("sha256", key).update(data).digest()

// AWS Signature V4 headers for a path-style S3 request with an empty or
// small string body (enough for CreateBucket).
export function sigV4Headers({ method, url, region, accessKeyId, secretAccessKey, body = "", now = new Date() }) {
  const target = new URL(url)
  const amzDate = now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "")
  const day = amzDate.slice(0, 8)
  const payloadHash = sha256Hex(body)
  const headers = { host: target.host, "x-amz-content-sha256": payloadHash, "x-amz-date": amzDate }
  const signedHeaders = Object.keys(headers).sort()
  const canonical = [
    method,
    target.pathname,
    [...target.searchParams].sort().map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&"),
    signedHeaders.map((h) => `${h}:${headers[h]}\n`).join(""),
    signedHeaders.join(";"),
    payloadHash
  ].join("\n")
  const scope = `${day}/${region}/s3/aws4_request`
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonical)].join("\n")
  const key = ["s3", "aws4_request"].reduce(hmac, hmac(hmac(`AWS4${secretAccessKey}`, day), region))
  const signature = createHmac("sha256", key).update(toSign).digest("hex")
  const authorization = `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${signedHeaders.join(";")}, Signature=${signature}`
  return { ...headers, authorization }
}

// Azure Storage SharedKey headers for a bodiless request to a path-style
// (emulator) URL such as http://127.0.0.1:P/devstoreaccount1/container?restype=container.
export function azureSharedKeyHeaders({ method, url, accountName, accountKey, now = new Date() }) {
  const target = new URL(url)
  const msHeaders = { "x-ms-date": now.toUTCString(), "x-ms-version": "2021-12-02" }
  const canonicalHeaders = Object.keys(msHeaders).sort().map((h) => `${h}:${msHeaders[h]}\n`).join("")
  const query = [...target.searchParams].map(([k, v]) => [k.toLowerCase(), v]).sort(([a], [b]) => (a < b ? -1 : 1))
  const canonicalResource = `/${accountName}${target.pathname}` + query.map(([k, v]) => `\n${k}:${v}`).join("")
  // VERB, then 11 standard headers (all empty here), each followed by "\n".
  const toSign = method + "\n".repeat(12) + canonicalHeaders + canonicalResource
  const signature = createHmac("sha256", Buffer.from(accountKey, "base64")).update(toSign, "utf8").digest("base64")
  return { ...msHeaders, authorization: `SharedKey ${accountName}:${signature}` }
}
