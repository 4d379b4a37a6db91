import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { ExitCode } from "../../domain/ExitCode.ts"
import { readIndex } from "../../services/Publisher.ts"
import { showRelease } from "../../services/Maintenance.ts"
import { Repository } from "../../services/Repository.ts"
import { yankMarkOf } from "../../services/Yank.ts"
import { setExitCode } from "../exit.ts"
import { repositoryLayer, repositoryOptions } from "../repository.ts"

const json = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of a table"))

export const listCommand = Command.make("list", { ...repositoryOptions, json }, (args) =>
  Effect.gen(function* () {
    const repo = yield* Repository
    const { index } = yield* readIndex(repo)
    if (args.json) return yield* Console.log(JSON.stringify(index, null, 2))
    if (index.releases.length === 0) return yield* Console.log(`no releases in ${repo.location}`)
    const rows = index.releases.map((r) => [
      r.version,
      r.timestamp,
      String(r.artifacts.length),
      String(r.size_bytes),
      r.signed ? "yes" : "no",
      r.sha256.slice(0, 16),
      r.yanked === undefined ? "no" : "yes"
    ])
    const head = ["VERSION", "PUBLISHED", "FILES", "BYTES", "SIGNED", "SHA256", "YANKED"]
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
    const line = (cells: ReadonlyArray<string>) =>
      cells
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd()
    yield* Console.log([line(head), ...rows.map(line)].join("\n"))
  }).pipe(Effect.provide(repositoryLayer(args)))
).pipe(Command.withDescription("List published releases, newest first, and which are yanked"))

export const showCommand = Command.make(
  "show",
  { version: Args.text({ name: "version" }), ...repositoryOptions, json },
  (args) =>
    Effect.gen(function* () {
      const found = yield* showRelease(args.version)
      if (Option.isNone(found)) {
        yield* Console.error(`relpub: version ${args.version} is not published`)
        return yield* setExitCode(ExitCode.MetadataMissing)
      }
      const { record, signed } = found.value
      const repo = yield* Repository
      const yanked = Option.getOrUndefined(yield* yankMarkOf(repo, args.version))
      // release.json as stored, plus the index's yank mark when there is one.
      if (args.json)
        return yield* Console.log(JSON.stringify(yanked ? { ...record, yanked } : record, null, 2))
      yield* Console.log(
        [
          `version       ${record.version}`,
          `published at  ${record.published_at}`,
          `sha256        ${record.sha256}`,
          `size          ${record.size_bytes} bytes in ${record.files.length} files`,
          `policy        ${record.policy_mode}`,
          `signed record ${signed ? `yes (key ${record.signing_key_id})` : "no"}`,
          `yanked        ${yanked ? `yes, at ${yanked.at}: ${yanked.reason}` : "no"}`,
          `sbom id       ${record.sbom_id ?? "-"}`,
          `slsa id       ${record.slsa_id ?? "-"}`,
          "files:",
          ...record.files.map((f) => `  ${f.sha256}  ${f.size.toString().padStart(12)}  ${f.path}`)
        ].join("\n")
      )
    }).pipe(Effect.provide(repositoryLayer(args)))
).pipe(Command.withDescription("Show the release record of one version, and whether it is yanked"))
