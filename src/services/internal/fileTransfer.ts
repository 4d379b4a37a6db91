// Local files on the way to and from an object store: a read stream hashed as
// it goes out that fails when the file changes under it, and a durable,
// create-only download.
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { dirname } from "node:path"
import { type Readable, Transform } from "node:stream"
import { Effect, type Scope } from "effect"
import { StorageError } from "../../domain/Errors.ts"
import { sameStamp, stampOf } from "../Hasher.ts"

/** Bytes read per chunk (PERFORMANCE.md, recommendation 3). */
export const CHUNK_BYTES = 1024 * 1024

/** Thrown into an upload stream when the source file changes under it. */
export class SourceChanged extends Error {
  constructor(readonly path: string) {
    super(`${path} changed while it was being sent`)
  }
}

/** A local file opened for upload, hashed as it streams out. */
export interface HashedSource {
  readonly stream: Readable
  readonly size: number
  /** SHA-256 hex of what went through `stream`; call after it ended. */
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
 * Opens `path` for an upload in this scope. At the end of the stream, before
 * the backend can commit the object, it fails with SourceChanged when size,
 * inode, mtime or ctime moved, or fewer or more bytes were read than the size.
 */
export const openHashedSource = (
  path: string,
  key: string
): Effect.Effect<HashedSource, StorageError, Scope.Scope> =>
  Effect.gen(function* () {
    const handle = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => fs.promises.open(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW),
        catch: openFailure(path, key)
      }),
      (h) => Effect.promise(() => h.close().catch(() => undefined))
    )
    const before = stampOf(
      yield* Effect.tryPromise({
        try: () => handle.stat({ bigint: true }),
        catch: openFailure(path, key)
      })
    )
    const hash = createHash("sha256")
    let sent = 0
    const unchanged = (after: fs.BigIntStats) =>
      sameStamp(before, stampOf(after)) && sent === before.size
    const guard = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk)
        sent += chunk.length
        callback(null, chunk)
      },
      flush(callback) {
        handle.stat({ bigint: true }).then(
          (after) => callback(unchanged(after) ? null : new SourceChanged(path)),
          (e: Error) => callback(e)
        )
      }
    })
    const source = handle.createReadStream({
      highWaterMark: CHUNK_BYTES,
      autoClose: false,
      start: 0
    })
    source.on("error", (e) => guard.destroy(e))
    source.pipe(guard)
    return { stream: guard, size: before.size, sha256: () => hash.digest("hex") }
  })

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
