import * as fs from "node:fs"
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Layer, Option } from "effect"
import { KeyError } from "../../domain/Errors.ts"
import * as Hasher from "../../services/Hasher.ts"
import type { PrepareOutcome } from "../../services/Prepare.ts"
import * as ReleaseReader from "../../services/ReleaseReader.ts"
import { verboseOption } from "../repository.ts"

const prepareOptions = {
  verbose: verboseOption,
  dir: Args.directory({ name: "dir", exists: "yes" }).pipe(
    Args.withDescription("Directory of build artifacts to prepare as a release")
  ),
  version: Options.text("release-version").pipe(
    Options.withDescription(
      "Version of the release, a semantic version such as 1.4.0 or v1.4.0 (also --version)"
    )
  ),
  signingKey: Options.file("signing-key", { exists: "yes" }).pipe(
    Options.withDescription(
      "PEM private key (Ed25519, ECDSA P-256, RSA): signs SHA256SUMS and the provenance (DSSE)"
    ),
    Options.optional
  ),
  signFiles: Options.boolean("sign-files").pipe(
    Options.withDescription(
      "Also write a detached <file>.sig for every artifact (needs --signing-key)"
    )
  ),
  sbom: Options.file("sbom", { exists: "yes" }).pipe(
    Options.withDescription("CycloneDX or SPDX JSON SBOM to validate and copy into the release"),
    Options.optional
  ),
  builderId: Options.text("builder-id").pipe(
    Options.withDescription(
      "SLSA builder id (default: from GitHub Actions / GitLab CI, else urn:relpub:builder:local)"
    ),
    Options.optional
  ),
  invocationId: Options.text("invocation-id").pipe(
    Options.withDescription(
      "SLSA invocation id (default: the CI run or job URL, else a random urn:uuid)"
    ),
    Options.optional
  ),
  sourceRepository: Options.text("source-repository").pipe(
    Options.withDescription(
      "Source repository URI recorded in the provenance (default: from the CI environment)"
    ),
    Options.optional
  ),
  name: Options.text("name").pipe(
    Options.withDescription(
      "Provenance file name, <name>.intoto.jsonl (default: repository or directory name)"
    ),
    Options.optional
  ),
  force: Options.boolean("force").pipe(
    Options.withDescription(
      "Replace an existing manifest.json, SHA256SUMS, provenance, signatures and SBOM copy"
    )
  ),
  json: Options.boolean("json").pipe(Options.withDescription("Print what was written as JSON"))
}

type PrepareArgs = Command.Command.ParseConfig<typeof prepareOptions>

const readKey = (file: string) =>
  Effect.try({
    try: () => ({ file, pem: fs.readFileSync(file, "utf8") }),
    catch: (e) => new KeyError({ file, detail: `cannot be read (${(e as Error).message})` })
  })

const render = (o: PrepareOutcome): string => {
  const p = o.provenance
  const lines = [
    `prepared ${o.dir}: ${o.files.length} files listed in manifest.json and SHA256SUMS`,
    `provenance ${p.file}: ${p.subjects} subjects, builder ${p.build.builderId} (${p.build.ci}), ` +
      `invocation ${p.build.invocationId}, ` +
      `${p.signed ? "DSSE-signed" : "UNSIGNED (no --signing-key)"}`,
    o.signingKey === undefined
      ? "not signed: give --signing-key to write SHA256SUMS.sig"
      : `signed with ${o.signingKey.algorithm} key ${o.signingKey.id}`,
    `wrote ${o.written.join(", ")}`
  ]
  return lines.join("\n")
}

const handler = (args: PrepareArgs) =>
  Effect.gen(function* () {
    const signingKey = Option.isSome(args.signingKey)
      ? yield* readKey(args.signingKey.value)
      : undefined
    // Signing and SBOM validation pull in the verifiers (openpgp, ajv): load them only here.
    const { prepareRelease } = yield* Effect.promise(() => import("../../services/Prepare.ts"))
    const outcome = yield* prepareRelease({
      dir: args.dir,
      version: args.version,
      signingKey,
      signFiles: args.signFiles,
      sbomFile: Option.getOrUndefined(args.sbom),
      builderId: Option.getOrUndefined(args.builderId),
      invocationId: Option.getOrUndefined(args.invocationId),
      sourceRepository: Option.getOrUndefined(args.sourceRepository),
      name: Option.getOrUndefined(args.name),
      force: args.force,
      env: process.env
    }).pipe(Effect.provide(Layer.mergeAll(ReleaseReader.layer, Hasher.layer)))
    yield* Console.log(args.json ? JSON.stringify(outcome, null, 2) : render(outcome))
  })

/**
 * `relpub prepare <dir> --version V`: manifest.json, SHA256SUMS, SLSA
 * provenance and signatures for a directory of artifacts (docs/prepare.md).
 *
 * @category commands
 */
export const prepareCommand = Command.make("prepare", prepareOptions, handler).pipe(
  Command.withDescription(
    "Write manifest.json, SHA256SUMS, a DSSE-signed SLSA provenance statement and signatures " +
      "for a release directory"
  )
)
