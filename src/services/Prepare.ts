import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { Array as Arr, Clock, Effect, Either } from "effect"
import { KeyError, PolicyRejected, UsageError } from "../domain/Errors.ts"
import {
  formatManifestJson,
  formatSha256Sums,
  MANIFEST_JSON,
  type ManifestFile,
  SHA256SUMS
} from "../domain/Manifest.ts"
import { violation } from "../domain/Policy.ts"
import { isManifestMetadata, isSbomFile, isSignatureFile } from "../domain/ReleaseContent.ts"
import { parseVersion, versionError } from "../domain/Version.ts"
import { IN_TOTO_PAYLOAD_TYPE, signEnvelope } from "../verify/Dsse.ts"
import { loadSigningKey, signWith } from "../verify/RawSignature.ts"
import { validateSbom } from "../verify/Sbom.ts"
import { encodeStatement, makeStatement } from "../verify/Statement.ts"
import { Hasher } from "./Hasher.ts"
import { ReleaseReader } from "./ReleaseReader.ts"

/** The build type of GitHub Actions workflows (github.com/actions/buildtypes, workflow/v1). */
export const GITHUB_BUILD_TYPE = "https://actions.github.io/buildtypes/workflow/v1"
/** relpub's build type for other builders; docs/prepare.md specifies its parameters. */
export const RELPUB_BUILD_TYPE = "urn:relpub:buildtype:prepare:v1"
export const LOCAL_BUILDER_ID = "urn:relpub:builder:local"

type Env = Readonly<Record<string, string | undefined>>

/**
 * Who built the release and from what, for the SLSA v1 predicate
 * (slsa.dev/spec/v1.0/provenance, "BuildDefinition" and "RunDetails").
 *
 * @category models
 */
export interface BuildContext {
  readonly ci: "github-actions" | "gitlab-ci" | "local"
  readonly builderId: string
  readonly invocationId: string
  readonly buildType: string
  readonly externalParameters: Readonly<Record<string, unknown>>
  readonly internalParameters: Readonly<Record<string, unknown>> | undefined
  readonly source: { readonly uri: string; readonly digest?: Record<string, string> } | undefined
}

const defined = (o: Record<string, string | undefined>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(o).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== "")
  )

const githubContext = (env: Env): BuildContext => {
  const server = env["GITHUB_SERVER_URL"] ?? "https://github.com"
  const repository = `${server}/${env["GITHUB_REPOSITORY"] ?? ""}`
  // GITHUB_WORKFLOW_REF is "owner/repo/.github/workflows/release.yml@refs/heads/main".
  const workflowRef = env["GITHUB_WORKFLOW_REF"] ?? ""
  const at = workflowRef.lastIndexOf("@")
  const workflowPath = at < 0 ? "" : workflowRef.slice(0, at).split("/").slice(2).join("/")
  const ref = env["GITHUB_REF"] ?? (at < 0 ? undefined : workflowRef.slice(at + 1))
  const github = defined({
    event_name: env["GITHUB_EVENT_NAME"],
    repository_id: env["GITHUB_REPOSITORY_ID"],
    repository_owner_id: env["GITHUB_REPOSITORY_OWNER_ID"],
    runner_environment: env["RUNNER_ENVIRONMENT"]
  })
  const sha = env["GITHUB_SHA"]
  const attempt = env["GITHUB_RUN_ATTEMPT"] ?? "1"
  return {
    ci: "github-actions",
    builderId: workflowRef === "" ? `${server}/actions/runner` : `${server}/${workflowRef}`,
    invocationId: `${repository}/actions/runs/${env["GITHUB_RUN_ID"] ?? ""}/attempts/${attempt}`,
    buildType: GITHUB_BUILD_TYPE,
    externalParameters: { workflow: defined({ ref, repository, path: workflowPath }) },
    internalParameters: Object.keys(github).length > 0 ? { github } : undefined,
    source: {
      uri: `git+${repository}${ref === undefined ? "" : `@${ref}`}`,
      ...(sha ? { digest: { gitCommit: sha } } : {})
    }
  }
}

const gitlabContext = (env: Env): BuildContext => {
  const project = `${env["CI_SERVER_URL"] ?? "https://gitlab.com"}/${env["CI_PROJECT_PATH"] ?? ""}`
  const runner = env["CI_RUNNER_ID"]
  const ref = env["CI_COMMIT_REF_NAME"]
  const sha = env["CI_COMMIT_SHA"]
  const source = `git+${project}${ref ? `@${ref}` : ""}`
  return {
    ci: "gitlab-ci",
    builderId: runner ? `${project}/-/runners/${runner}` : project,
    invocationId: `${project}/-/jobs/${env["CI_JOB_ID"] ?? ""}`,
    buildType: RELPUB_BUILD_TYPE,
    externalParameters: { source: { uri: source } },
    internalParameters: {
      gitlab: defined({
        pipeline_id: env["CI_PIPELINE_ID"],
        job_id: env["CI_JOB_ID"],
        runner_id: runner
      })
    },
    source: { uri: source, ...(sha ? { digest: { gitCommit: sha } } : {}) }
  }
}

/** Overrides from the command line; they win over the CI environment. */
export interface BuildFlags {
  readonly builderId?: string | undefined
  readonly invocationId?: string | undefined
  readonly sourceRepository?: string | undefined
}

/**
 * The build context from the CI environment (GitHub Actions, GitLab CI) and
 * the flags, which win. A flag-given source repository carries no commit
 * digest: relpub cannot know which commit of it was built.
 *
 * @category constructors
 */
export const buildContext = (env: Env, flags: BuildFlags): BuildContext => {
  const ci =
    env["GITHUB_ACTIONS"] === "true"
      ? githubContext(env)
      : env["GITLAB_CI"] === "true"
        ? gitlabContext(env)
        : undefined
  const base: BuildContext = ci ?? {
    ci: "local",
    builderId: LOCAL_BUILDER_ID,
    invocationId: `urn:uuid:${randomUUID()}`,
    buildType: RELPUB_BUILD_TYPE,
    externalParameters: {},
    internalParameters: undefined,
    source: undefined
  }
  const source =
    flags.sourceRepository === undefined ? base.source : { uri: flags.sourceRepository }
  const externalParameters =
    base.buildType === RELPUB_BUILD_TYPE && source !== undefined
      ? { ...base.externalParameters, source: { uri: source.uri } }
      : base.externalParameters
  return {
    ...base,
    builderId: flags.builderId ?? base.builderId,
    invocationId: flags.invocationId ?? base.invocationId,
    externalParameters,
    source
  }
}

/**
 * What to prepare: `dir` gets manifest.json, SHA256SUMS, provenance and, with
 * a signing key, SHA256SUMS.sig (and `<file>.sig` with `signFiles`).
 *
 * @category models
 */
export interface PrepareRequest extends BuildFlags {
  readonly dir: string
  readonly version: string
  /** PEM private key (Ed25519, ECDSA P-256 or RSA) and the file it came from. */
  readonly signingKey?: { readonly file: string; readonly pem: string } | undefined
  readonly signFiles?: boolean | undefined
  readonly sbomFile?: string | undefined
  /** Base name of the provenance file (`<name>.intoto.jsonl`). */
  readonly name?: string | undefined
  readonly force?: boolean | undefined
  readonly env: Env
}

/** @category models */
export interface PrepareOutcome {
  readonly dir: string
  /** Every file manifest.json and SHA256SUMS list. */
  readonly files: ReadonlyArray<ManifestFile>
  /** Files relpub wrote, relative to `dir`, in the order written. */
  readonly written: ReadonlyArray<string>
  readonly provenance: {
    readonly file: string
    readonly subjects: number
    readonly signed: boolean
    readonly build: BuildContext
  }
  readonly signingKey: { readonly id: string; readonly algorithm: string } | undefined
}

export type PrepareError = UsageError | KeyError | PolicyRejected

interface Digest {
  readonly sha256: string
  readonly size: number
}

const usage = (message: string) => new UsageError({ message })

const safeName = (raw: string): string =>
  raw.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^[-.]+/, "") || "release"

// "git+https://host/owner/repo.git@refs/heads/main" and "git@host:owner/repo" name "repo".
const repositoryName = (uri: string): string | undefined => {
  const path = uri
    .replace(/^[a-z+]+:\/\//i, "")
    .replace(/^[^/@]+@/, "")
    .split("@")[0]!
  return path
    .replace(/\.git$/, "")
    .replace(/\/+$/, "")
    .split(/[/:]/)
    .pop()
}

const defaultName = (dir: string, sourceUri: string | undefined): string =>
  safeName(
    (sourceUri === undefined ? undefined : repositoryName(sourceUri)) || nodePath.basename(dir)
  )

const writeNew = (dir: string, path: string, bytes: Uint8Array | string, force: boolean) =>
  Effect.tryPromise({
    try: () => fs.promises.writeFile(nodePath.join(dir, path), bytes, { flag: force ? "w" : "wx" }),
    catch: (e) => usage(`${nodePath.join(dir, path)}: cannot be written (${(e as Error).message})`)
  })

const readFile = (file: string, what: string) =>
  Effect.tryPromise({
    try: () => fs.promises.readFile(file),
    catch: (e) => usage(`${what} ${file}: cannot be read (${(e as Error).message})`)
  })

const loadKey = (key: NonNullable<PrepareRequest["signingKey"]>) =>
  loadSigningKey(key.pem).pipe(
    Effect.mapError((e) => new KeyError({ file: key.file, detail: `${e.reason}: ${e.detail}` }))
  )

// The SBOM is checked before it is copied: a release is never prepared around an invalid one.
const loadSbom = (file: string) =>
  Effect.gen(function* () {
    const bytes = new Uint8Array(yield* readFile(file, "--sbom"))
    const base = nodePath.basename(file)
    const name = isSbomFile(base) ? base : "sbom.json"
    const report = yield* validateSbom(name, bytes)
    if (!report.finding.ok) {
      return yield* new PolicyRejected({
        violations: [
          violation("metadata", 33, "refuse", name, `--sbom ${file}: ${report.finding.detail}`)
        ],
        warnings: []
      })
    }
    return { name, bytes, source: nodePath.resolve(file) }
  })

/**
 * Prepares a release directory for `verify` and `publish`: copies in the
 * SBOM, writes an in-toto v1 / SLSA v1 provenance statement over every
 * artifact (DSSE-signed when a key is given), optional `<file>.sig`
 * signatures, then manifest.json, SHA256SUMS and SHA256SUMS.sig, which list
 * and cover everything else. Existing outputs are refused unless `force`.
 *
 * @category constructors
 */
export const prepareRelease = (
  request: PrepareRequest
): Effect.Effect<PrepareOutcome, PrepareError, ReleaseReader | Hasher> =>
  Effect.gen(function* () {
    const startedOn = new Date(yield* Clock.currentTimeMillis)
    const version = parseVersion(request.version)
    if (Either.isLeft(version)) return yield* usage(`--version: ${versionError(version.left)}`)
    // An empty builder id, or a source with neither URI nor digest, is provenance that the
    // in-toto attestation validators reject (scripts/check-provenance.py).
    for (const [flag, value] of [
      ["--builder-id", request.builderId],
      ["--source-repository", request.sourceRepository]
    ] as const) {
      if (value !== undefined && value.trim() === "")
        return yield* usage(`${flag}: must not be empty`)
    }
    const key = request.signingKey === undefined ? undefined : yield* loadKey(request.signingKey)
    if (request.signFiles === true && key === undefined) {
      return yield* usage(
        "--sign-files needs a key: give --signing-key FILE (relpub keygen makes one)"
      )
    }
    const sbom = request.sbomFile === undefined ? undefined : yield* loadSbom(request.sbomFile)
    const force = request.force === true
    const dir = nodePath.resolve(request.dir)
    if (force) yield* removeManifests(dir)

    const reader = yield* ReleaseReader
    const hasher = yield* Hasher
    const release = yield* reader.read({ dir, version: request.version })
    if (release.facts.refused.length > 0) {
      return yield* new PolicyRejected({
        violations: release.facts.refused.map((r) =>
          violation("manifest", 33, "refuse", r.path, `${r.path}: ${r.reason}`)
        ),
        warnings: []
      })
    }
    const build = buildContext(request.env, request)
    const baseName = safeName(request.name ?? defaultName(dir, build.source?.uri))
    const provenanceFile = `${baseName}.intoto.jsonl`
    const sbomInPlace = sbom !== undefined && sbom.source === nodePath.join(dir, sbom.name)
    const digests = new Map<string, Digest>(
      release.files.map((f) => [f.path, release.digests.get(f.path)!])
    )
    const present = new Set(release.files.map((f) => f.path))

    const artifacts = release.files
      .map((f) => f.path)
      .filter((p) => !isSignatureFile(p) && !isManifestMetadata(p) && p !== provenanceFile)
    if (sbom !== undefined && !present.has(sbom.name)) artifacts.push(sbom.name)
    const outputs = [
      provenanceFile,
      ...(sbom !== undefined && !sbomInPlace ? [sbom.name] : []),
      ...(request.signFiles === true ? [...artifacts, provenanceFile].map((p) => `${p}.sig`) : []),
      ...release.files.map((f) => f.path).filter(isManifestMetadata)
    ]
    const clash = outputs.filter((p) => present.has(p))
    if (!force && clash.length > 0) {
      return yield* usage(`${request.dir}: refusing to overwrite ${clash.join(", ")} (use --force)`)
    }
    if (!Arr.isNonEmptyReadonlyArray(artifacts))
      return yield* usage(`${request.dir}: no artifacts to prepare`)

    const written: Array<string> = []
    const write = (path: string, bytes: Uint8Array | string) =>
      Effect.tap(writeNew(dir, path, bytes, force), () => {
        written.push(path)
        const b = typeof bytes === "string" ? Buffer.from(bytes) : bytes
        digests.set(path, { sha256: hasher.hashBytes(b), size: b.length })
      })

    if (sbom !== undefined && !sbomInPlace) yield* write(sbom.name, sbom.bytes)

    // in-toto Statement v1 whose subjects are the artifacts (in-toto attestation spec,
    // statement.md).
    const subjects = Arr.map(artifacts, (name) => ({ name, sha256: digests.get(name)!.sha256 }))
    const statement = makeStatement({
      subjects,
      builderId: build.builderId,
      buildType: build.buildType,
      externalParameters: build.externalParameters,
      ...(build.internalParameters ? { internalParameters: build.internalParameters } : {}),
      ...(build.source ? { resolvedDependencies: [build.source] } : {}),
      invocationId: build.invocationId,
      startedOn,
      finishedOn: new Date(yield* Clock.currentTimeMillis)
    })
    const line =
      key === undefined
        ? JSON.stringify(statement)
        : JSON.stringify(signEnvelope(IN_TOTO_PAYLOAD_TYPE, encodeStatement(statement), key))
    yield* write(provenanceFile, `${line}\n`)

    if (request.signFiles === true && key !== undefined) {
      for (const path of [...artifacts, provenanceFile]) {
        const bytes = new Uint8Array(yield* readFile(nodePath.join(dir, path), "artifact"))
        if (hasher.hashBytes(bytes) !== digests.get(path)?.sha256) {
          return yield* usage(`${path}: changed while the release was being prepared`)
        }
        yield* write(`${path}.sig`, signWith(key, bytes))
      }
    }

    const files = [...digests]
      .filter(([path]) => !isManifestMetadata(path))
      .map(([path, d]) => ({ path, sha256: d.sha256, size: d.size }))
    yield* writeNew(dir, MANIFEST_JSON, formatManifestJson(files, request.version), force)
    const sums = formatSha256Sums(files)
    yield* writeNew(dir, SHA256SUMS, sums, force)
    written.push(MANIFEST_JSON, SHA256SUMS)
    if (key !== undefined) {
      yield* writeNew(dir, `${SHA256SUMS}.sig`, signWith(key, Buffer.from(sums)), force)
      written.push(`${SHA256SUMS}.sig`)
    }
    return {
      dir,
      files,
      written,
      provenance: {
        file: provenanceFile,
        subjects: subjects.length,
        signed: key !== undefined,
        build
      },
      signingKey: key === undefined ? undefined : { id: key.publicKey.id, algorithm: key.algorithm }
    } satisfies PrepareOutcome
  }).pipe(Effect.withSpan("Prepare.prepareRelease"))

// Stale manifests would describe the old files; --force removes them (and signatures over them)
// first.
const removeManifests = (dir: string) =>
  Effect.tryPromise({
    try: async () => {
      for (const name of await fs.promises.readdir(dir)) {
        if (isManifestMetadata(name))
          await fs.promises.rm(nodePath.join(dir, name), { force: true })
      }
    },
    catch: (e) => usage(`${dir}: cannot be prepared (${(e as Error).message})`)
  })
