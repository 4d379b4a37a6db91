// Local files on the way to and from an object store: read streams hashed as
// they go out that fail when the file changes under them, and a durable,
// create-only download.
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { dirname } from "node:path"
import { Readable } from "node:stream"
import { Effect, type Scope } from "effect"
import { StorageError } from "../../domain/Errors.ts"
import { type FileDigest, type FileStamp, sameStamp, stampOf } from "../Hasher.ts"

/** Bytes read per chunk (PERFORMANCE.md, recommendation 3). */
export const CHUNK_BYTES = 1024 * 1024

/** Thrown into an upload stream when the source file changes under it. */
export class SourceChanged extends Error {
  constructor(readonly path: string) {
    super(`${path} changed while it was being sent`)
  }
}

/** An upload stream closed by its consumer before its end (the request failed or was aborted). */
export class Stopped extends Error {
  constructor(readonly path: string) {
    super(`the upload of ${path} stopped before its end`)
  }
}

/** A local file opened for upload, hashed as it streams out. */
export interface HashedSource {
  readonly stream: Readable
  readonly size: number
  /** SHA-256 hex of what went through `stream`; call after it ended. */
  readonly sha256: () => string
}

/**
 * A local file opened for upload, read in one or more byte ranges (the parts
 * of a multipart upload) that go through one SHA-256 in file order.
 */
export interface UploadSource {
  readonly size: number
  /** The file's stamp when it was opened. */
  readonly stamp: FileStamp
  /**
   * The bytes `[start, end)` as a stream, hashed as they are read. Ranges
   * must cover the file in order, each opened once the previous one is
   * `read`. Before the last byte of the file goes out, the stream fails with
   * SourceChanged when size, inode, mtime or ctime moved or a range came up
   * short, so a backend never receives a whole body that is not the file.
   */
  readonly range: (
    start: number,
    end: number
  ) => { readonly stream: Readable; readonly read: Promise<void> }
  /** SHA-256 hex of every byte read; call after the last range is `read`. */
  readonly sha256: () => string
}

const openFailure = (path: string, key: string) => (e: unknown) =>
  new StorageError({
    operation: "upload",
    key,
    detail: `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    retryable: false
  })

/**
 * Opens `path` for an upload in this scope (closed with it). With `verified`
 * (the digest taken when the release was inspected) it fails at once when the
 * file's stamp moved since then.
 */
export const openUploadSource = (
  path: string,
  key: string,
  verified?: FileDigest
): Effect.Effect<UploadSource, StorageError, Scope.Scope> =>
  Effect.gen(function* () {
    const handle = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => fs.promises.open(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW),
        catch: openFailure(path, key)
      }),
      (h) => Effect.promise(() => h.close().catch(() => undefined))
    )
    const stamp = stampOf(
      yield* Effect.tryPromise({
        try: () => handle.stat({ bigint: true }),
        catch: openFailure(path, key)
      })
    )
    if (verified !== undefined && !sameStamp(stamp, verified.stamp)) {
      return yield* new StorageError({
        operation: "upload",
        key,
        detail: `${path} changed after it was verified`,
        retryable: false
      })
    }
    const hash = createHash("sha256")
    let hashed = 0
    // Every byte hashed exactly once, in order, and the file as it was opened.
    const unchanged = async (last: boolean) =>
      (!last || hashed === stamp.size) &&
      sameStamp(stamp, stampOf(await handle.stat({ bigint: true })))
    const range = (start: number, end: number) => {
      let pos = start
      let settled = false
      let done!: () => void
      let failed!: (e: unknown) => void
      const read = new Promise<void>((resolve, reject) => {
        done = () => {
          settled = true
          resolve()
        }
        failed = (e) => {
          settled = true
          reject(e)
        }
      })
      read.catch(() => undefined)
      const stream: Readable = new Readable({
        highWaterMark: CHUNK_BYTES,
        read() {
          const want = Math.min(CHUNK_BYTES, end - pos)
          // Ranges read out of order (or at once) would hash the file out of order.
          if (hashed !== pos) return void this.destroy(new SourceChanged(path))
          // A fresh buffer per chunk: the HTTP stack may hold it until the socket wrote it.
          const buffer = Buffer.allocUnsafeSlow(want)
          const next =
            want === 0 ? Promise.resolve({ bytesRead: 0 }) : handle.read(buffer, 0, want, pos)
          next
            .then(async ({ bytesRead }) => {
              if (bytesRead === 0 && want > 0) throw new SourceChanged(path)
              const chunk = bytesRead === want ? buffer : buffer.subarray(0, bytesRead)
              hash.update(chunk)
              hashed += bytesRead
              pos += bytesRead
              if (pos < end) return void this.push(chunk)
              // Check before the body's last byte goes out, not after: with a
              // known length the server may commit as soon as it has them all.
              // (A part before the last is checked too, to stop early.)
              if (!(await unchanged(end === stamp.size))) throw new SourceChanged(path)
              if (bytesRead > 0) this.push(chunk)
              done()
              this.push(null)
            })
            .catch((e: unknown) => this.destroy(e as Error))
        },
        destroy(error, callback) {
          if (!settled) failed(error ?? new Stopped(path))
          callback(error)
        }
      })
      // A failure reaches the uploader through `read`; the SDK pipes the
      // stream without listening for its errors, which would otherwise crash.
      stream.on("error", () => undefined)
      return { stream, read }
    }
    return { size: stamp.size, stamp, range, sha256: () => hash.digest("hex") }
  })

/**
 * Sends a request whose body streams from a file range: the SDK pipes the
 * body and does not see it fail, so a failed read (the file changed, an I/O
 * error) aborts the request and is the error reported.
 */
export const sending = async <A>(
  read: Promise<void>,
  abortSignal: AbortSignal,
  send: (signal: AbortSignal) => Promise<A>
): Promise<A> => {
  const controller = new AbortController()
  const onAbort = () => controller.abort(abortSignal.reason)
  abortSignal.addEventListener("abort", onAbort, { once: true })
  let readError: unknown
  read.catch((e: unknown) => {
    readError = e
    controller.abort(e)
  })
  try {
    return await send(controller.signal)
  } catch (e) {
    // Let the read settle first if it is what failed.
    await Promise.race([read, new Promise((r) => setImmediate(r))]).catch(() => undefined)
    throw readError !== undefined && !(readError instanceof Stopped) ? readError : e
  } finally {
    abortSignal.removeEventListener("abort", onAbort)
  }
}

/**
 * Opens `path` for an upload in this scope as one stream. Before the last
 * byte goes out, it fails with SourceChanged when size, inode, mtime or ctime
 * moved, or fewer or more bytes were read than the size.
 */
export const openHashedSource = (
  path: string,
  key: string
): Effect.Effect<HashedSource, StorageError, Scope.Scope> =>
  Effect.map(openUploadSource(path, key), (source) => ({
    stream: source.range(0, source.size).stream,
    size: source.size,
    sha256: source.sha256
  }))

/**
 * Writes `body` to `localPath` durably and create-only (it fails if the file
 * exists, as the local repository does): a temporary file beside it,
 * fsynced, then linked into place. Returns the SHA-256 and size written.
 */
export const writeHashedFile = async (
  body: AsyncIterable<Uint8Array>,
  localPath: string
): Promise<{ readonly sha256: string; readonly size: number }> => {
  const dir = dirname(localPath)
  await fs.promises.mkdir(dir, { recursive: true })
  const tmp = `${localPath}.relpub-${process.pid}-${Date.now()}.part`
  const hash = createHash("sha256")
  let size = 0
  const handle = await fs.promises.open(tmp, "wx", 0o644)
  try {
    for await (const chunk of body) {
      hash.update(chunk)
      size += chunk.length
      await handle.write(chunk)
    }
    await handle.sync()
    await handle.close()
    await fs.promises.link(tmp, localPath)
    const parent = await fs.promises.open(dir, "r")
    await parent.sync().finally(() => parent.close())
  } finally {
    await handle.close().catch(() => undefined)
    await fs.promises.unlink(tmp).catch(() => undefined)
  }
  return { sha256: hash.digest("hex"), size }
}
