import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { Context, Data, Effect, Layer } from "effect"

/**
 * What a file looked like when it was hashed. A file that is written to
 * changes its ctime (which no user can set back), so equal stamps before and
 * after a copy mean the copy holds the hashed bytes.
 *
 * @category models
 */
export interface FileStamp {
  readonly size: number
  readonly ino: bigint
  readonly mtimeNs: bigint
  readonly ctimeNs: bigint
}

export interface FileDigest {
  readonly sha256: string
  readonly size: number
  readonly stamp: FileStamp
}

/** A file could not be read (vanished, unreadable) or changed while being hashed. */
export class HashError extends Data.TaggedError("HashError")<{
  readonly path: string
  readonly detail: string
}> {}

export interface HasherShape {
  readonly hashFile: (path: string) => Effect.Effect<FileDigest, HashError>
  readonly hashBytes: (bytes: Uint8Array | string) => string
}

/**
 * SHA-256 of files and byte strings.
 *
 * @category tags
 */
export class Hasher extends Context.Tag("relpub/services/Hasher")<Hasher, HasherShape>() {}

const CHUNK = 1024 * 1024
const SMALL_FILE = 256 * 1024

export const stampOf = (st: fs.BigIntStats): FileStamp => ({
  size: Number(st.size),
  ino: st.ino,
  mtimeNs: st.mtimeNs,
  ctimeNs: st.ctimeNs
})

export const sameStamp = (a: FileStamp, b: FileStamp): boolean =>
  a.size === b.size && a.ino === b.ino && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs

// Small files: one whole-file read. Large files: two reused 1 MiB buffers,
// reading chunk N+1 while hashing chunk N (PERFORMANCE.md, recommendation 3).
// Buffer pairs are reused across files: fresh memory costs ~1.1 s/GiB to touch here.
const pool: Array<[Buffer, Buffer]> = []

const hashOpenFile = async (handle: fs.promises.FileHandle, size: number): Promise<string> => {
  const buffers = pool.pop() ?? [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)]
  try {
    return await hashWith(handle, size, buffers)
  } finally {
    pool.push(buffers)
  }
}

const hashWith = async (
  handle: fs.promises.FileHandle,
  size: number,
  buffers: [Buffer, Buffer]
) => {
  const hash = createHash("sha256")
  let position = 0
  let turn = 0
  let pending = handle.read(buffers[0]!, 0, CHUNK, 0)
  for (;;) {
    const { bytesRead } = await pending
    if (bytesRead === 0) break
    const current = buffers[turn]!
    position += bytesRead
    turn = 1 - turn
    pending = handle.read(buffers[turn]!, 0, CHUNK, position)
    hash.update(bytesRead === CHUNK ? current : current.subarray(0, bytesRead))
  }
  if (position !== size)
    throw new Error(`size changed while hashing (${size} -> ${position} bytes)`)
  return hash.digest("hex")
}

// Small files are read synchronously: a thread-pool round trip per call costs
// more than the read (PERFORMANCE.md, recommendation 4: 58 ms vs 659 ms for
// 2,000 small files).
const hashSmallFile = (path: string): FileDigest | undefined => {
  const fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)
  try {
    const before = stampOf(fs.fstatSync(fd, { bigint: true }))
    if (before.size >= SMALL_FILE) return undefined
    const bytes = fs.readFileSync(fd)
    const after = stampOf(fs.fstatSync(fd, { bigint: true }))
    if (bytes.length !== before.size || !sameStamp(before, after)) {
      throw new Error("file changed while it was being hashed")
    }
    return {
      sha256: createHash("sha256").update(bytes).digest("hex"),
      size: before.size,
      stamp: before
    }
  } finally {
    fs.closeSync(fd)
  }
}

const hashFileNode = async (path: string): Promise<FileDigest> => {
  const small = hashSmallFile(path)
  if (small !== undefined) return small
  const handle = await fs.promises.open(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)
  try {
    const before = stampOf(await handle.stat({ bigint: true }))
    const sha256 = await hashOpenFile(handle, before.size)
    const after = stampOf(await handle.stat({ bigint: true }))
    if (!sameStamp(before, after)) throw new Error("file changed while it was being hashed")
    return { sha256, size: before.size, stamp: before }
  } finally {
    await handle.close()
  }
}

export const sha256Hex = (bytes: Uint8Array | string): string =>
  createHash("sha256").update(bytes).digest("hex")

/** The hasher on node:crypto (OpenSSL, with SHA-NI where the CPU has it). */
export const layer: Layer.Layer<Hasher> = Layer.succeed(Hasher, {
  hashFile: (path) =>
    Effect.tryPromise({
      try: () => hashFileNode(path),
      catch: (e) => new HashError({ path, detail: (e as Error).message })
    }),
  hashBytes: sha256Hex
})
