import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { Effect, Layer, Option } from "effect"
import lockfile from "proper-lockfile"
import {
  AlreadyExists,
  PreconditionFailed,
  StorageError,
  type StorageOperation
} from "../domain/Errors.ts"
import { Hasher, type HasherShape, sameStamp, stampOf } from "./Hasher.ts"
import { type ObjectInfo, Repository, type RepositoryShape } from "./Repository.ts"

const TMP_PREFIX = ".relpub-tmp-"
const HOST = os.hostname()
const ORPHAN_AGE_MS = 60 * 60 * 1000

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}
const fsp = fs.promises

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code

const storageError = (operation: StorageOperation, key: string) => (e: unknown) =>
  new StorageError({
    operation,
    key,
    detail: (e as Error).message,
    retryable: ["EAGAIN", "EBUSY", "EINTR", "ELOCKED"].includes(errno(e) ?? ""),
    cause: e
  })

const etagOf = (st: fs.BigIntStats) => `${st.size}-${st.ino}-${st.mtimeNs}-${st.ctimeNs}`

const fsyncPath = async (path: string) => {
  const handle = await fsp.open(path, "r")
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

const writeDurable = async (path: string, bytes: Uint8Array) => {
  const handle = await fsp.open(
    path,
    fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL,
    0o644
  )
  try {
    await handle.writeFile(bytes)
    await handle.sync()
  } finally {
    await handle.close()
  }
}

const inBatches = async <A>(items: ReadonlyArray<A>, width: number, f: (a: A) => Promise<void>) => {
  let next = 0
  const worker = async () => {
    while (next < items.length) await f(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker))
}

const allDirectories = async (root: string): Promise<Array<string>> => {
  const out = [root]
  for (const entry of await fsp.readdir(root, { withFileTypes: true })) {
    if (entry.isDirectory()) out.push(...(await allDirectories(nodePath.join(root, entry.name))))
  }
  return out
}

/**
 * A repository in a local directory. Create-only writes are a fully written
 * temporary file hard-linked into place (link fails if the name exists);
 * replacements are a rename under a lock; promotion is one directory rename.
 * Every file and directory is fsynced before a write counts as done.
 */
export const makeLocalRepository = (root: string, hasher: HasherShape): RepositoryShape => {
  const base = nodePath.resolve(root)
  const pathOf = (key: string) => {
    const segments = key.split("/").filter((s) => s !== "")
    if (segments.some((s) => s === "." || s === "..")) throw new Error(`invalid key ${key}`)
    return nodePath.join(base, ...segments)
  }
  // Temporary names carry the writer's pid and host, so `sweep` can tell the
  // leftovers of a killed writer from a write in progress.
  const tmpBeside = (path: string) =>
    nodePath.join(
      nodePath.dirname(path),
      `${TMP_PREFIX}${process.pid}@${HOST}-${randomBytes(8).toString("hex")}`
    )

  const sweepDir = async (dir: string, removed: Array<string>) => {
    const entries = await fsp.readdir(dir).catch(() => [] as Array<string>)
    for (const name of entries.filter((n) => n.startsWith(TMP_PREFIX))) {
      const match = /^\.relpub-tmp-(\d+)@(.*)-[0-9a-f]{16}$/.exec(name)
      const abs = nodePath.join(dir, name)
      const st = await fsp.stat(abs).catch(() => undefined)
      if (st === undefined) continue
      const oldEnough = Date.now() - st.mtimeMs > ORPHAN_AGE_MS
      const deadHere = match !== null && match[2] === HOST && !isAlive(Number(match[1]))
      if (deadHere || oldEnough) {
        await fsp.rm(abs, { force: true })
        removed.push(nodePath.relative(base, abs))
      }
    }
  }

  const withLock = <A>(key: string, body: () => Promise<A>): Promise<A> =>
    (async () => {
      const locks = nodePath.join(base, ".relpub", "locks")
      await fsp.mkdir(locks, { recursive: true })
      const release = await lockfile.lock(base, {
        realpath: false,
        lockfilePath: nodePath.join(locks, `${key.replace(/[^A-Za-z0-9._-]/g, "_")}.lock`),
        stale: 15_000,
        update: 5_000,
        retries: { retries: 400, minTimeout: 5, maxTimeout: 100, randomize: true },
        onCompromised: () => {}
      })
      try {
        return await body()
      } finally {
        await release().catch(() => undefined)
      }
    })()

  const statOrUndefined = (path: string) =>
    fsp
      .stat(path, { bigint: true })
      .catch((e) => (errno(e) === "ENOENT" ? undefined : Promise.reject(e)))

  const listUnder = async (prefix: string): Promise<Array<ObjectInfo>> => {
    const slash = prefix.lastIndexOf("/")
    const dirKey = slash < 0 ? "" : prefix.slice(0, slash)
    const out: Array<ObjectInfo> = []
    const walk = async (dir: string, rel: string): Promise<void> => {
      const entries = await fsp
        .readdir(dir, { withFileTypes: true })
        .catch((e) => (errno(e) === "ENOENT" || errno(e) === "ENOTDIR" ? [] : Promise.reject(e)))
      for (const entry of entries) {
        const key = rel === "" ? entry.name : `${rel}/${entry.name}`
        if (entry.name.startsWith(TMP_PREFIX)) continue
        if (entry.isDirectory()) {
          if (prefix.startsWith(`${key}/`) || `${key}/`.startsWith(prefix))
            await walk(nodePath.join(dir, entry.name), key)
        } else if (entry.isFile() && key.startsWith(prefix)) {
          const st = await fsp.stat(nodePath.join(dir, entry.name), { bigint: true })
          out.push({ key, size: Number(st.size), etag: etagOf(st) })
        }
      }
    }
    await walk(dirKey === "" ? base : pathOf(dirKey), dirKey)
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  const attempt = <A>(operation: StorageOperation, key: string, run: () => Promise<A>) =>
    Effect.tryPromise({ try: run, catch: storageError(operation, key) })

  return {
    kind: "local",
    location: base,
    stagingMode: "separate",

    read: (key) =>
      attempt("read", key, async () => {
        const handle = await fsp
          .open(pathOf(key), "r")
          .catch((e) => (errno(e) === "ENOENT" ? undefined : Promise.reject(e)))
        if (handle === undefined) return Option.none()
        try {
          const st = await handle.stat({ bigint: true })
          return Option.some({ bytes: new Uint8Array(await handle.readFile()), etag: etagOf(st) })
        } finally {
          await handle.close()
        }
      }),

    head: (key) =>
      attempt("read", key, async () => {
        const st = await statOrUndefined(pathOf(key))
        return st === undefined || !st.isFile()
          ? Option.none()
          : Option.some({ key, size: Number(st.size), etag: etagOf(st) })
      }),

    list: (prefix) => attempt("list", prefix, () => listUnder(prefix)),

    create: (key, bytes) =>
      Effect.tryPromise({
        try: async () => {
          const path = pathOf(key)
          await fsp.mkdir(nodePath.dirname(path), { recursive: true })
          const tmp = tmpBeside(path)
          await writeDurable(tmp, bytes)
          try {
            await fsp.link(tmp, path)
          } finally {
            await fsp.unlink(tmp)
          }
          await fsyncPath(nodePath.dirname(path))
          const st = await fsp.stat(path, { bigint: true })
          return { key, size: Number(st.size), etag: etagOf(st) }
        },
        catch: (e) =>
          errno(e) === "EEXIST" ? new AlreadyExists({ key }) : storageError("create", key)(e)
      }),

    swap: (key, bytes, expected) =>
      Effect.tryPromise({
        try: () =>
          withLock(key, async () => {
            const path = pathOf(key)
            const current = await statOrUndefined(path)
            const token = current === undefined ? undefined : etagOf(current)
            if (token !== expected) throw new PreconditionFailed({ key })
            await fsp.mkdir(nodePath.dirname(path), { recursive: true })
            const tmp = tmpBeside(path)
            await writeDurable(tmp, bytes)
            await fsp.rename(tmp, path)
            await fsyncPath(nodePath.dirname(path))
            const st = await fsp.stat(path, { bigint: true })
            return { key, size: Number(st.size), etag: etagOf(st) }
          }),
        catch: (e) => (e instanceof PreconditionFailed ? e : storageError("swap", key)(e))
      }),

    remove: (key, expected) =>
      Effect.tryPromise({
        try: async () => {
          const path = pathOf(key)
          const unlink = async () => {
            await fsp
              .unlink(path)
              .catch((e) => (errno(e) === "ENOENT" ? undefined : Promise.reject(e)))
            await fsyncPath(nodePath.dirname(path)).catch(() => undefined)
          }
          if (expected === undefined) return unlink()
          return withLock(key, async () => {
            const current = await statOrUndefined(path)
            if (current === undefined || etagOf(current) !== expected)
              throw new PreconditionFailed({ key })
            await unlink()
          })
        },
        catch: (e) => (e instanceof PreconditionFailed ? e : storageError("delete", key)(e))
      }),

    removePrefix: (prefix) =>
      attempt("delete", prefix, async () => {
        if (prefix.endsWith("/")) {
          const dir = pathOf(prefix)
          // ENOTDIR: a parent is a file, so there is nothing under the prefix to remove.
          await fsp
            .rm(dir, { recursive: true, force: true })
            .catch((e) => (errno(e) === "ENOTDIR" ? undefined : Promise.reject(e)))
          await fsyncPath(nodePath.dirname(dir)).catch(() => undefined)
        } else {
          for (const o of await listUnder(prefix)) await fsp.rm(pathOf(o.key), { force: true })
        }
      }),

    upload: (localPath, key, verified) =>
      Effect.gen(function* () {
        const path = pathOf(key)
        const fail = storageError("upload", key)
        const stat = () =>
          attempt("upload", key, () => fsp.stat(localPath, { bigint: true }).then(stampOf))
        yield* attempt("upload", key, () => fsp.mkdir(nodePath.dirname(path), { recursive: true }))
        const before = yield* stat()
        const copy = attempt("upload", key, () =>
          fsp.copyFile(localPath, path, fs.constants.COPYFILE_EXCL)
        )
        // With the digest taken at inspection, the kernel copies alone: a file
        // whose inode, size, mtime and ctime are unchanged holds the hashed
        // bytes (any write moves ctime, which no user can set back). Without
        // one, hash the source while the kernel copies it.
        const digest =
          verified !== undefined
            ? yield* Effect.as(copy, verified)
            : (yield* Effect.all(
                [
                  copy,
                  hasher
                    .hashFile(localPath)
                    .pipe(Effect.mapError((e) => fail(new Error(`${e.path}: ${e.detail}`))))
                ],
                { concurrency: 2 }
              ))[1]
        const after = yield* stat()
        if (!sameStamp(before, after) || !sameStamp(before, digest.stamp)) {
          return yield* fail(new Error(`${localPath} changed after it was verified`))
        }
        // Not fsynced here: promote fsyncs every staged file, many at a time,
        // before the rename that makes them visible.
        return { key, size: digest.size, sha256: digest.sha256 }
      }),

    promote: (fromPrefix, toPrefix) =>
      Effect.tryPromise({
        try: async () => {
          if (fromPrefix === toPrefix) return
          const from = pathOf(fromPrefix)
          const to = pathOf(toPrefix)
          // Durability before visibility: every staged file and directory is
          // fsynced, 16 at a time so the file system can batch journal commits.
          const dirs = await allDirectories(from)
          const files = (
            await Promise.all(
              dirs.map(async (d) =>
                (await fsp.readdir(d, { withFileTypes: true }))
                  .filter((e) => e.isFile())
                  .map((e) => nodePath.join(d, e.name))
              )
            )
          ).flat()
          await inBatches([...files, ...dirs.reverse()], 16, fsyncPath)
          await fsp.mkdir(nodePath.dirname(to), { recursive: true })
          await fsp.rename(from, to)
          await fsyncPath(nodePath.dirname(to))
          await fsyncPath(nodePath.dirname(from))
        },
        catch: (e) =>
          errno(e) === "ENOTEMPTY" || errno(e) === "EEXIST"
            ? new AlreadyExists({ key: toPrefix })
            : storageError("promote", toPrefix)(e)
      }),

    sweep: attempt("delete", ".relpub-tmp-*", async () => {
      const removed: Array<string> = []
      const releases = await fsp
        .readdir(nodePath.join(base, "releases"))
        .catch(() => [] as Array<string>)
      for (const dir of [
        base,
        ".relpub/claims",
        "audit",
        ...releases.map((v) => `releases/${v}`)
      ]) {
        await sweepDir(dir === base ? base : pathOf(dir), removed)
      }
      return removed
    }),

    download: (key, localPath) =>
      Effect.gen(function* () {
        yield* attempt("read", key, async () => {
          await fsp.mkdir(nodePath.dirname(localPath), { recursive: true })
          await fsp.copyFile(pathOf(key), localPath, fs.constants.COPYFILE_EXCL)
          await fsyncPath(localPath)
        })
        const digest = yield* hasher
          .hashFile(localPath)
          .pipe(Effect.mapError((e) => storageError("read", key)(new Error(e.detail))))
        return { key, size: digest.size, sha256: digest.sha256 }
      })
  }
}

/** The local repository at `root` as the Repository service. */
export const layer = (root: string): Layer.Layer<Repository, never, Hasher> =>
  Layer.effect(
    Repository,
    Effect.map(Hasher, (hasher) => makeLocalRepository(root, hasher))
  )
