import { Context, type Effect, type Option } from "effect"
import type { AlreadyExists, PreconditionFailed, StorageError } from "../domain/Errors.ts"
import type { FileDigest } from "./Hasher.ts"

/**
 * What a backend reports about a stored object. `etag` is an opaque token for
 * compare-and-swap (ETag, GCS generation, or a local content hash).
 *
 * @category models
 */
export interface ObjectInfo {
  readonly key: string
  readonly size: number
  readonly etag: string
  /** SHA-256 hex when the backend stores or computed it. */
  readonly sha256?: string | undefined
}

/** A small object read whole, with the token to replace it conditionally. */
export interface StoredObject {
  readonly bytes: Uint8Array
  readonly etag: string
}

/** A file written by {@link RepositoryShape.upload}, with what was hashed while sending it. */
export interface UploadedFile {
  readonly key: string
  readonly size: number
  readonly sha256: string
}

/**
 * How a backend stages and promotes: `separate` stages under
 * `.relpub/staging/<txid>/` and promotes by rename or server-side copy;
 * `in-place` writes straight into `releases/<version>/`, which the claim makes
 * this publisher's alone, so promotion is the verified commit itself.
 */
export type StagingMode = "separate" | "in-place"

/**
 * An artifact repository. Keys are `/`-separated and relative to the
 * repository root. Every write is durable when its effect succeeds.
 *
 * @category models
 */
export interface RepositoryShape {
  readonly kind: "local" | "memory" | "s3" | "gcs" | "azure"
  /** Where the repository is, for reports; never contains a secret. */
  readonly location: string
  readonly stagingMode: StagingMode

  readonly read: (key: string) => Effect.Effect<Option.Option<StoredObject>, StorageError>
  readonly head: (key: string) => Effect.Effect<Option.Option<ObjectInfo>, StorageError>
  /** Every object under `prefix` (recursive), in key order. */
  readonly list: (prefix: string) => Effect.Effect<ReadonlyArray<ObjectInfo>, StorageError>

  /** Create-only write: fails with AlreadyExists when the key is present, whoever wrote it. */
  readonly create: (
    key: string,
    bytes: Uint8Array
  ) => Effect.Effect<ObjectInfo, AlreadyExists | StorageError>
  /**
   * Compare-and-swap: replace `key` only if its token is still `expected`
   * (`undefined`: only if the key is absent). Returns the new token.
   *
   * Object-store backends resolve an ambiguous failure (the write may have
   * landed, its answer was lost) by reading the key back: identical bytes
   * count as this write. Callers therefore give every conditional write a
   * body unique to the writer, as relpub's records are (they carry a
   * transaction id).
   */
  readonly swap: (
    key: string,
    bytes: Uint8Array,
    expected: string | undefined
  ) => Effect.Effect<ObjectInfo, PreconditionFailed | StorageError>
  /** Delete; absent keys are fine. With `expected`, only if the token still matches. */
  readonly remove: (
    key: string,
    expected?: string
  ) => Effect.Effect<void, PreconditionFailed | StorageError>
  /** Delete every object under `prefix`, and leftovers such as unfinished multipart uploads. */
  readonly removePrefix: (prefix: string) => Effect.Effect<void, StorageError>

  /**
   * Copy the local file at `localPath` to `key`, returning the SHA-256 and
   * size of what was sent. `verified` is the digest taken when the release
   * was inspected; a backend may trust it only while the file's stamp is
   * unchanged, and must fail when the file changes. A staged upload is
   * durable once `promote` succeeds.
   */
  readonly upload: (
    localPath: string,
    key: string,
    verified?: FileDigest
  ) => Effect.Effect<UploadedFile, StorageError>
  /**
   * Make the objects staged under `fromPrefix` appear under `toPrefix`
   * (nothing to do when they are the same). Fails with AlreadyExists if
   * `toPrefix` holds anything.
   */
  readonly promote: (
    fromPrefix: string,
    toPrefix: string,
    keys: ReadonlyArray<string>
  ) => Effect.Effect<void, AlreadyExists | StorageError>
  /**
   * Remove what writes interrupted by a crash left outside the key space
   * (a local repository's temporary files of dead writers). Returns what it
   * removed. Backends whose writes leave nothing behind omit it.
   */
  readonly sweep?: Effect.Effect<ReadonlyArray<string>, StorageError>
  /** Download `key` to `localPath` (written durably), returning its SHA-256 and size. */
  readonly download: (key: string, localPath: string) => Effect.Effect<UploadedFile, StorageError>
}

/**
 * The artifact repository a program publishes into.
 *
 * @category tags
 */
export class Repository extends Context.Tag("relpub/services/Repository")<
  Repository,
  RepositoryShape
>() {}
