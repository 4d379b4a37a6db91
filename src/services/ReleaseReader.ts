import * as fs from "node:fs"
import * as nodePath from "node:path"
import { Context, Effect, Either, Layer, ParseResult, Schema } from "effect"
import { collisions, describePathProblem, pathProblem } from "../domain/ArtifactPath.ts"
import type {
  ManifestInput,
  ReleaseFacts,
  ResultInput,
  SignatureFinding
} from "../domain/Checks.ts"
import { UsageError } from "../domain/Errors.ts"
import {
  MANIFEST_JSON,
  parseManifestJson,
  parseSha256Sums,
  SHA256SUMS
} from "../domain/Manifest.ts"
import { sbomId, slsaId } from "../domain/Metadata.ts"
import {
  isEncryptedFile,
  isProvenanceFile,
  isSbomFile,
  isSignatureFile
} from "../domain/ReleaseContent.ts"
import { ValidationResult, VerificationResult } from "../domain/Results.ts"
import { type FileDigest, Hasher } from "./Hasher.ts"

/** Bounds on what relpub reads into memory from a release. */
export const Limits = {
  manifestBytes: 16 * 1024 * 1024,
  resultBytes: 1024 * 1024,
  metadataBytes: 16 * 1024 * 1024,
  files: 100_000,
  depth: 64
} as const

export interface ReleaseFile {
  readonly path: string
  readonly absolutePath: string
  readonly size: number
}

export interface ReleaseMetadata {
  readonly sbomId: string | undefined
  readonly slsaId: string | undefined
  readonly provenanceHash: string | undefined
  readonly signed: boolean
  readonly encrypted: boolean
}

/**
 * A release directory as read for publishing: its files, the facts the policy
 * judges, and the digest of every file (taken once, then trusted only while
 * the file's stamp is unchanged).
 *
 * @category models
 */
export interface Release {
  readonly dir: string
  readonly files: ReadonlyArray<ReleaseFile>
  readonly facts: ReleaseFacts
  readonly digests: ReadonlyMap<string, FileDigest>
  readonly metadata: ReleaseMetadata
}

export interface ReadRequest {
  readonly dir: string
  readonly version: string
  readonly verificationResultFile?: string | undefined
  readonly validationResultFile?: string | undefined
  readonly signatureFindings?: ReadonlyArray<SignatureFinding> | undefined
  readonly trustedKeysGiven?: boolean | undefined
}

export interface ReleaseReaderShape {
  readonly read: (request: ReadRequest) => Effect.Effect<Release, UsageError, Hasher>
}

/** @category tags */
export class ReleaseReader extends Context.Tag("relpub/services/ReleaseReader")<
  ReleaseReader,
  ReleaseReaderShape
>() {}

interface Scan {
  readonly files: Array<ReleaseFile>
  readonly refused: Array<{ path: string; reason: string }>
}

const kindOf = (st: fs.Stats): string =>
  st.isSymbolicLink()
    ? "a symbolic link"
    : st.isFIFO()
      ? "a FIFO"
      : st.isSocket()
        ? "a socket"
        : st.isBlockDevice() || st.isCharacterDevice()
          ? "a device"
          : "not a regular file"

const scan = async (root: string): Promise<Scan> => {
  const out: Scan = { files: [], refused: [] }
  const walk = async (dir: string, rel: string, depth: number): Promise<void> => {
    if (depth > Limits.depth) {
      out.refused.push({ path: rel, reason: `nested deeper than ${Limits.depth} directories` })
      return
    }
    const entries = (await fs.promises.readdir(dir)).sort()
    for (const name of entries) {
      const path = rel === "" ? name : `${rel}/${name}`
      const absolutePath = nodePath.join(dir, name)
      const st = await fs.promises.lstat(absolutePath)
      const problem = pathProblem(path)
      if (problem !== undefined && problem !== "reserved") {
        out.refused.push({ path: JSON.stringify(path), reason: describePathProblem(problem) })
      } else if (st.isDirectory()) {
        await walk(absolutePath, path, depth + 1)
      } else if (!st.isFile()) {
        out.refused.push({ path, reason: `is ${kindOf(st)}; only regular files can be published` })
      } else if (problem === "reserved") {
        out.refused.push({ path, reason: describePathProblem(problem) })
      } else {
        out.files.push({ path, absolutePath, size: st.size })
      }
      if (out.files.length > Limits.files) throw new Error(`more than ${Limits.files} files`)
    }
  }
  await walk(root, "", 0)
  for (const group of collisions(out.files.map((f) => f.path))) {
    out.refused.push({
      path: group[0]!,
      reason: `names collide after Unicode normalisation or case folding: ${group.join(", ")}`
    })
  }
  return out
}

const readLimited = (file: string, limit: number): Effect.Effect<Either.Either<string, string>> =>
  Effect.promise(async () => {
    try {
      const st = await fs.promises.stat(file)
      if (!st.isFile()) return Either.left(`${file}: not a regular file`)
      if (st.size > limit)
        return Either.left(`${file}: ${st.size} bytes is over the ${limit}-byte limit`)
      return Either.right(await fs.promises.readFile(file, "utf8"))
    } catch (e) {
      return Either.left(
        `${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`
      )
    }
  })

const readResult = <A, I>(
  schema: Schema.Schema<A, I>,
  file: string | undefined
): Effect.Effect<ResultInput<A>> =>
  Effect.gen(function* () {
    if (file === undefined) return { _tag: "None" } as const
    const text = yield* readLimited(file, Limits.resultBytes)
    if (Either.isLeft(text)) return { _tag: "Invalid", file, message: text.left } as const
    let json: unknown
    try {
      json = JSON.parse(text.right)
    } catch (e) {
      return {
        _tag: "Invalid",
        file,
        message: `${file}: not valid JSON (${(e as Error).message})`
      } as const
    }
    const decoded = Schema.decodeUnknownEither(schema)(json)
    if (Either.isLeft(decoded)) {
      const detail = ParseResult.TreeFormatter.formatErrorSync(decoded.left)
      return { _tag: "Invalid", file, message: `${file}: wrong shape: ${detail}` } as const
    }
    return { _tag: "Valid", file, result: decoded.right } as const
  })

const readManifest = (
  dir: string,
  files: ReadonlyArray<ReleaseFile>
): Effect.Effect<ManifestInput> =>
  Effect.gen(function* () {
    const has = (name: string) => files.some((f) => f.path === name)
    const load = (name: string) => readLimited(nodePath.join(dir, name), Limits.manifestBytes)
    if (!has(MANIFEST_JSON) && !has(SHA256SUMS)) return { _tag: "Missing" } as const
    const primary = has(MANIFEST_JSON) ? MANIFEST_JSON : SHA256SUMS
    const text = yield* load(primary)
    if (Either.isLeft(text)) {
      return {
        _tag: "Invalid",
        file: primary,
        problems: [{ where: primary, message: text.left }]
      } as const
    }
    const parsed =
      primary === MANIFEST_JSON ? parseManifestJson(text.right) : parseSha256Sums(text.right)
    if (Either.isLeft(parsed))
      return { _tag: "Invalid", file: primary, problems: parsed.left } as const
    if (primary === MANIFEST_JSON && has(SHA256SUMS)) {
      // Both present: they must agree, or a consumer checking one would see another release.
      const sums = yield* load(SHA256SUMS)
      const other = Either.isRight(sums) ? parseSha256Sums(sums.right) : Either.left([])
      const problems = Either.isLeft(other)
        ? [{ where: SHA256SUMS, message: "cannot be parsed, and manifest.json is present too" }]
        : other.right.entries.flatMap((e) => {
            const m = parsed.right.entries.find((x) => x.path === e.path)
            return m === undefined || m.sha256 !== e.sha256
              ? [{ where: SHA256SUMS, message: `${e.path}: disagrees with manifest.json` }]
              : []
          })
      if (problems.length > 0) return { _tag: "Invalid", file: SHA256SUMS, problems } as const
    }
    return { _tag: "Valid", manifest: parsed.right } as const
  })

const readMetadata = (
  dir: string,
  files: ReadonlyArray<ReleaseFile>,
  digests: ReadonlyMap<string, FileDigest>
) =>
  Effect.gen(function* () {
    const text = (f: ReleaseFile) =>
      readLimited(nodePath.join(dir, f.path), Limits.metadataBytes).pipe(
        Effect.map(Either.getOrUndefined)
      )
    let sbom: string | undefined
    let slsa: string | undefined
    let provenanceHash: string | undefined
    for (const f of files.filter((x) => isSbomFile(x.path))) {
      const t = yield* text(f)
      sbom ??= t === undefined ? undefined : sbomId(t)
    }
    for (const f of files.filter((x) => isProvenanceFile(x.path))) {
      const t = yield* text(f)
      const id = t === undefined ? undefined : slsaId(t)
      if (slsa === undefined && id !== undefined) {
        slsa = id
        provenanceHash = digests.get(f.path)?.sha256
      }
    }
    return {
      sbomId: sbom,
      slsaId: slsa,
      provenanceHash,
      signed: files.some((f) => isSignatureFile(f.path)),
      encrypted: files.some((f) => isEncryptedFile(f.path))
    }
  })

const read = (request: ReadRequest) =>
  Effect.gen(function* () {
    const hasher = yield* Hasher
    const dir = nodePath.resolve(request.dir)
    const isDir = yield* Effect.promise(() =>
      fs.promises.stat(dir).then(
        (s) => s.isDirectory(),
        () => false
      )
    )
    if (!isDir)
      return yield* new UsageError({
        message: `${request.dir}: not a directory (the release to publish)`
      })
    const scanned = yield* Effect.tryPromise({
      try: () => scan(dir),
      catch: (e) =>
        new UsageError({ message: `${request.dir}: cannot be read: ${(e as Error).message}` })
    })
    const manifest = yield* readManifest(dir, scanned.files)
    const verification = yield* readResult(VerificationResult, request.verificationResultFile)
    const validation = yield* readResult(ValidationResult, request.validationResultFile)

    // Hash only what could be published; refused input fails before any expensive work.
    const digests = new Map<string, FileDigest>()
    if (scanned.refused.length === 0 && manifest._tag !== "Invalid") {
      yield* Effect.forEach(
        scanned.files,
        (f) =>
          hasher.hashFile(f.absolutePath).pipe(
            Effect.match({
              onFailure: (e) =>
                scanned.refused.push({ path: f.path, reason: `cannot be hashed: ${e.detail}` }),
              onSuccess: (d) => {
                if (d.size !== f.size)
                  scanned.refused.push({ path: f.path, reason: "changed while being read" })
                else digests.set(f.path, d)
              }
            })
          ),
        { concurrency: 2, discard: true }
      )
    }
    const facts: ReleaseFacts = {
      version: request.version,
      files: scanned.files.map(({ path, size }) => ({ path, size })),
      refused: scanned.refused,
      manifest,
      hashes:
        digests.size === scanned.files.length
          ? new Map([...digests].map(([path, d]) => [path, d.sha256]))
          : undefined,
      verification,
      validation,
      signatureFindings: request.signatureFindings ?? [],
      trustedKeysGiven: request.trustedKeysGiven ?? false
    }
    const metadata = yield* readMetadata(dir, scanned.files, digests)
    return { dir, files: scanned.files, facts, digests, metadata } satisfies Release
  })

/** Reads release directories from the local disk. */
export const layer: Layer.Layer<ReleaseReader> = Layer.succeed(ReleaseReader, { read })
