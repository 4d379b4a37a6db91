// prepare -> verify -> publish -> verify-repo -> fetch, as one scenario, on the
// local repository and on each cloud test server (issue 4). Real keys, real
// servers from scripts/servers, the shipped CLI.
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type ServerInfo, type ServerName, serverFor } from "../contract/servers.ts"
import { describeResult, runCli, scopedTempDir, sha256 } from "../support/cli.ts"

interface Target {
  readonly name: string
  readonly server?: ServerName
  /** Repository flags for a fresh prefix (or directory) and the child's environment. */
  readonly flags: (info: ServerInfo | undefined, work: string) => ReadonlyArray<string>
  readonly env: (info: ServerInfo | undefined) => Record<string, string>
}

const unique = () => `e2e-${process.pid}-${Date.now().toString(36)}`

const targets: ReadonlyArray<Target> = [
  { name: "local", flags: (_, work) => ["--repository", path.join(work, "repo")], env: () => ({}) },
  {
    name: "S3 on SeaweedFS",
    server: "seaweedfs",
    flags: (i) => ["--repository", `s3://${i!.bucket}/${unique()}`, "--endpoint", i!.endpoint, "--path-style",
      "--region", i!.region ?? "us-east-1"],
    env: (i) => ({ AWS_ACCESS_KEY_ID: i!.accessKeyId!, AWS_SECRET_ACCESS_KEY: i!.secretAccessKey! })
  },
  {
    name: "S3 on moto",
    server: "moto",
    flags: (i) => ["--repository", `s3://${i!.bucket}/${unique()}`, "--endpoint", i!.endpoint, "--path-style",
      "--region", i!.region ?? "us-east-1"],
    env: (i) => ({ AWS_ACCESS_KEY_ID: i!.accessKeyId ?? "test", AWS_SECRET_ACCESS_KEY: i!.secretAccessKey ?? "test" })
  },
  {
    name: "GCS on fake-gcs-server",
    server: "gcs",
    flags: (i) => ["--repository", `gs://${i!.bucket}/${unique()}`, "--endpoint", i!.endpoint],
    env: () => ({})
  },
  {
    name: "Azure Blob on Azurite",
    server: "azurite",
    flags: (i) => ["--repository", i!.connectionString!, "--repository-bucket", i!.container ?? i!.bucket,
      "--repository-prefix", unique()],
    env: () => ({})
  }
]

const BASE_ENV = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", NO_COLOR: "1" }

for (const target of targets) {
  describe(`supply chain on ${target.name}`, () => {
    const server = target.server === undefined ? undefined : serverFor(target.server)
    let info: ServerInfo | undefined
    let cleanup: (() => Promise<void>) | undefined
    let skip: string | undefined

    beforeAll(async () => {
      if (server === undefined) return
      const found = await server.acquire()
      if (found === undefined) skip = server.reason()
      else ({ info, cleanup } = found)
    }, 120_000)
    afterAll(async () => cleanup?.(), 60_000)

    it.scoped("prepare, verify, publish, verify-repo and fetch agree; a tampered artifact is refused", () =>
      Effect.gen(function*() {
        if (skip !== undefined) return yield* Effect.logWarning(`skipped: ${skip}`)
        const work = yield* scopedTempDir("relpub-e2e-")
        const env = { ...BASE_ENV, ...target.env(info) }
        const run = (args: ReadonlyArray<string>) => runCli(args, { env, timeoutMs: 120_000 })
        const repo = target.flags(info, work)

        const dist = path.join(work, "dist")
        fs.mkdirSync(path.join(dist, "bin"), { recursive: true })
        fs.writeFileSync(path.join(dist, "bin", "app"), "#!/bin/sh\necho app 2.1.0\n")
        fs.writeFileSync(path.join(dist, "app-2.1.0.tar.gz"), Buffer.alloc(300_000, 7))
        const keys = path.join(work, "keys")
        fs.mkdirSync(keys)
        const keygen = yield* run(["keygen", "--out", path.join(work, "release")])
        assert.strictEqual(keygen.code, 0, describeResult(keygen))
        fs.copyFileSync(path.join(work, "release.pub"), path.join(keys, "release.pub"))
        const key = path.join(work, "release.key")
        const validation = path.join(work, "validation.json")
        fs.writeFileSync(validation, JSON.stringify({ passed: true }))

        const prepared = yield* run(["prepare", dist, "--version", "v2.1.0", "--signing-key", key])
        assert.strictEqual(prepared.code, 0, describeResult(prepared))
        const verification = path.join(work, "verification.json")
        const verified = yield* run(["verify", dist, "--trusted-keys", keys, "--output", verification])
        assert.strictEqual(verified.code, 0, describeResult(verified))
        assert.isTrue(JSON.parse(fs.readFileSync(verification, "utf8")).passed)

        const published = yield* run(["publish", dist, "--version", "v2.1.0", ...repo, "--trusted-keys", keys,
          "--signing-key", key, "--sign-audit-log", "--validation-result", validation, "--json"])
        assert.strictEqual(published.code, 0, describeResult(published))
        const report = JSON.parse(published.stdout)
        assert.isTrue(report.audit_log_signed)

        const checked = yield* run(["verify-repo", ...repo, "--trusted-keys", keys])
        assert.strictEqual(checked.code, 0, describeResult(checked))

        const out = path.join(work, "out")
        const fetched = yield* run(["fetch", "v2.1.0", ...repo, "--to", out, "--trusted-keys", keys])
        assert.strictEqual(fetched.code, 0, describeResult(fetched))
        for (const f of report.artifacts_published as Array<string>) {
          assert.strictEqual(sha256(fs.readFileSync(path.join(out, f))), sha256(fs.readFileSync(path.join(dist, f))))
        }

        // A second version whose artifact changes after verification is refused,
        // and verify-repo still passes: nothing of it got in.
        fs.appendFileSync(path.join(dist, "app-2.1.0.tar.gz"), "tampered")
        const refused = yield* run(["publish", dist, "--version", "v2.1.0", ...repo, "--trusted-keys", keys,
          "--validation-result", validation])
        assert.include([30, 32], refused.code, describeResult(refused))
        const again = yield* run(["verify-repo", ...repo, "--trusted-keys", keys])
        assert.strictEqual(again.code, 0, describeResult(again))
      }), 300_000)
  })
}
