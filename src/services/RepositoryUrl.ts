import { fileURLToPath } from "node:url"
import { Either, Redacted } from "effect"
import { UsageError } from "../domain/Errors.ts"

/**
 * The repository options of the command line, as given (all optional):
 * `--repository`, the original specification's `--repository-type/-bucket/
 * -prefix/-path`, and `--endpoint`, `--region`, `--path-style`.
 *
 * @category models
 */
export interface RepositoryOptions {
  readonly repository?: string | undefined
  readonly repositoryType?: string | undefined
  readonly repositoryBucket?: string | undefined
  readonly repositoryPrefix?: string | undefined
  readonly repositoryPath?: string | undefined
  readonly endpoint?: string | undefined
  readonly region?: string | undefined
  readonly pathStyle?: boolean | undefined
}

/**
 * Where to publish. The field names match the configs of the repository
 * layers (S3RepositoryConfig, GcsRepositoryConfig, AzureRepositoryConfig).
 *
 * @category models
 */
export type RepositoryTarget =
  | { readonly kind: "local"; readonly path: string }
  | {
      readonly kind: "s3"
      readonly bucket: string
      readonly prefix: string
      readonly region?: string | undefined
      readonly endpoint?: string | undefined
      readonly forcePathStyle: boolean
    }
  | {
      readonly kind: "gcs"
      readonly bucket: string
      readonly prefix: string
      readonly endpoint?: string | undefined
    }
  | {
      readonly kind: "azure"
      readonly container: string
      readonly prefix: string
      readonly account?: string | undefined
      readonly connectionString?: Redacted.Redacted<string> | undefined
      readonly endpoint?: string | undefined
    }

/** The embedded default: a directory beside the working directory. */
export const DEFAULT_REPOSITORY_PATH = "./artifact-repository"

// Query and connection-string parameters whose values are secret.
const SECRET_PARAMS = new Set([
  "sig",
  "signature",
  "x-amz-signature",
  "x-amz-credential",
  "x-amz-security-token",
  "x-goog-signature",
  "x-goog-credential",
  "access_token",
  "token",
  "password",
  "secret",
  "key",
  "accountkey"
])

/**
 * A repository value fit for display: connection-string AccountKey and
 * SharedAccessSignature, SAS and presigned-URL signatures, and credentials
 * in URLs become `***`.
 */
export const redact = (value: string): string =>
  value
    .replace(/(AccountKey|SharedAccessSignature)\s*=[^;]*/gi, "$1=***")
    .replace(/([?&;]([\w-]+)=)([^&;\s"']*)/g, (all, head: string, name: string) =>
      SECRET_PARAMS.has(name.toLowerCase()) ? `${head}***` : all
    )
    .replace(/(\/\/)[^/@\s]+@/g, "$1***@")
    .replace(/(Bearer|SharedKey)\s+[^\s"']+/gi, "$1 ***")

const usage = (message: string) => Either.left(new UsageError({ message }))

const BUCKET = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/
const CONTAINER = /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/
const ACCOUNT = /^[a-z0-9]{3,24}$/
const REGION = /^[a-z0-9-]{2,32}$/

const checkName = (what: string, name: string | undefined, pattern: RegExp, flag: string) =>
  name === undefined || name === ""
    ? usage(`${what} missing: give it in the repository URL or with ${flag}`)
    : pattern.test(name)
      ? Either.right(name)
      : usage(`invalid ${what} "${redact(name)}"`)

// A key prefix: "/"-separated, no empty, "." or ".." segments, no backslash or NUL.
const checkPrefix = (prefix: string | undefined): Either.Either<string, UsageError> => {
  const trimmed = (prefix ?? "").replace(/^\/+|\/+$/g, "")
  if (trimmed === "") return Either.right("")
  const bad =
    trimmed.split("/").some((s) => s === "" || s === "." || s === "..") || /[\\\0]/.test(trimmed)
  return bad ? usage(`invalid repository prefix "${redact(prefix ?? "")}"`) : Either.right(trimmed)
}

const checkEndpoint = (
  endpoint: string | undefined
): Either.Either<string | undefined, UsageError> => {
  if (endpoint === undefined) return Either.right(undefined)
  const url = URL.canParse(endpoint) ? new URL(endpoint) : undefined
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
    return usage(`invalid --endpoint "${redact(endpoint)}": expected an http(s) URL`)
  }
  if (url.username !== "" || url.password !== "") {
    return usage(`--endpoint "${redact(endpoint)}" must not carry credentials`)
  }
  return Either.right(endpoint.replace(/\/+$/, ""))
}

const CONNECTION_STRING =
  /(^|;)\s*(AccountName|BlobEndpoint|UseDevelopmentStorage|DefaultEndpointsProtocol)=/i

// "bucket/prefix/more" → ["bucket", "prefix/more"]
const splitFirst = (rest: string): readonly [string, string] => {
  const slash = rest.indexOf("/")
  return slash < 0 ? [rest, ""] : [rest.slice(0, slash), rest.slice(slash + 1)]
}

type Kind = RepositoryTarget["kind"]
const KINDS: ReadonlyArray<Kind> = ["local", "s3", "gcs", "azure"]
const SCHEMES: Record<string, Kind> = {
  "s3:": "s3",
  "gs:": "gcs",
  "gcs:": "gcs",
  "az:": "azure",
  "file:": "local"
}

// What --repository alone says: its kind and the parts it names.
const fromValue = (value: string) => {
  if (CONNECTION_STRING.test(value)) {
    return Either.right({ kind: "azure" as const, connectionString: value })
  }
  const scheme = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(value)?.[1]?.toLowerCase()
  if (scheme === undefined) return Either.right({ kind: "local" as const, path: value })
  const kind = SCHEMES[scheme]
  if (kind === undefined) {
    return usage(
      `unsupported repository "${redact(value)}": use a path, file://, s3://, gs:// or az://`
    )
  }
  if (kind === "local") {
    try {
      return Either.right({ kind, path: fileURLToPath(value) })
    } catch {
      return usage(`invalid file URL "${redact(value)}"`)
    }
  }
  const rest = value.slice(scheme.length + 2)
  if (/^[^/]*@/.test(rest)) return usage(`repository "${redact(value)}" must not carry credentials`)
  const [first, tail] = splitFirst(rest)
  if (kind === "azure") {
    const [container, prefix] = splitFirst(tail)
    return Either.right({ kind, account: first, container, prefix })
  }
  return Either.right({ kind, bucket: first, prefix: tail })
}

/**
 * Parses the repository options into a target, or a UsageError naming the
 * offending value (redacted). Accepted: a path or `file://` URL (local),
 * `s3://bucket/prefix`, `gs://bucket/prefix`, `az://account/container/prefix`,
 * an Azure connection string (container from `--repository-bucket`), or
 * `--repository-type s3|gcs|local|azure` with `--repository-bucket`,
 * `--repository-prefix` and `--repository-path`. Nothing given: the local
 * default `./artifact-repository`.
 */
export const parseRepository = (
  options: RepositoryOptions
): Either.Either<RepositoryTarget, UsageError> =>
  Either.gen(function* () {
    const type = options.repositoryType?.toLowerCase()
    if (type !== undefined && !KINDS.includes(type as Kind)) {
      const expected = `expected one of ${KINDS.join(", ")}`
      return yield* usage(`unknown --repository-type "${options.repositoryType}": ${expected}`)
    }
    const given =
      options.repository === undefined ? undefined : yield* fromValue(options.repository)
    const kind: Kind = given?.kind ?? (type as Kind | undefined) ?? "local"
    if (type !== undefined && given !== undefined && given.kind !== type) {
      const shown = `--repository "${redact(options.repository ?? "")}" is ${given.kind}`
      return yield* usage(`${shown}, but --repository-type is ${type}`)
    }
    const prefixGiven =
      given !== undefined && "prefix" in given && given.prefix !== "" ? given.prefix : undefined
    if (prefixGiven !== undefined && options.repositoryPrefix !== undefined) {
      return yield* usage(
        "the repository prefix is given twice: in the URL and with --repository-prefix"
      )
    }
    const prefix = yield* checkPrefix(prefixGiven ?? options.repositoryPrefix)
    const endpoint = yield* checkEndpoint(options.endpoint)
    if (kind !== "s3" && options.pathStyle === true) {
      return yield* usage("--path-style applies to s3 repositories only")
    }
    if (kind !== "s3" && options.region !== undefined) {
      return yield* usage("--region applies to s3 repositories only")
    }

    switch (kind) {
      case "local": {
        if (endpoint !== undefined) {
          return yield* usage("--endpoint does not apply to a local repository")
        }
        const path =
          given?.kind === "local" ? given.path : (options.repositoryPath ?? DEFAULT_REPOSITORY_PATH)
        if (path === "" || path.includes("\0")) {
          return yield* usage(`invalid repository path "${path}"`)
        }
        return { kind, path }
      }
      case "s3":
      case "gcs": {
        const fromUrl = given !== undefined && "bucket" in given ? given.bucket : undefined
        const bucket = yield* checkName(
          "bucket",
          fromUrl || options.repositoryBucket,
          BUCKET,
          "--repository-bucket"
        )
        if (kind === "gcs") return { kind, bucket, prefix, endpoint }
        if (options.region !== undefined && !REGION.test(options.region)) {
          return yield* usage(`invalid --region "${options.region}"`)
        }
        return {
          kind,
          bucket,
          prefix,
          region: options.region,
          endpoint,
          forcePathStyle: options.pathStyle ?? false
        }
      }
      case "azure": {
        const parts = given !== undefined && "container" in given ? given : undefined
        const container = yield* checkName(
          "container",
          parts?.container || options.repositoryBucket,
          CONTAINER,
          "--repository-bucket"
        )
        const account =
          parts === undefined
            ? undefined
            : yield* checkName("account", parts.account, ACCOUNT, "az://")
        const connection =
          given !== undefined && "connectionString" in given ? given.connectionString : undefined
        return {
          kind,
          container,
          prefix,
          account,
          connectionString: connection === undefined ? undefined : Redacted.make(connection),
          endpoint
        }
      }
    }
  })

/** The target for reports and logs: never a secret. */
export const describeTarget = (target: RepositoryTarget): string => {
  if (target.kind === "local") return target.path
  const at = target.endpoint === undefined ? "" : ` (${redact(target.endpoint)})`
  switch (target.kind) {
    case "s3":
      return `s3://${target.bucket}/${target.prefix}${at}`
    case "gcs":
      return `gs://${target.bucket}/${target.prefix}${at}`
    case "azure":
      const account = target.account ?? "(connection string)"
      return `az://${account}/${target.container}/${target.prefix}${at}`
  }
}
