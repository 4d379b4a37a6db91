// Finds a real server for a contract test: one started for this test file by
// scripts/servers/servers.mjs, else the endpoint named by RELPUB_TEST_*
// variables, else nothing (and the reason why, shown on the skipped tests).
import { existsSync } from "node:fs"
import { join, resolve } from "node:path"
import { pathToFileURL } from "node:url"

export type ServerName = "seaweedfs" | "moto" | "gcs" | "azurite"

/** A server record as scripts/servers writes it (the fields the tests use). */
export interface ServerInfo {
  readonly endpoint: string
  readonly bucket: string
  readonly region?: string
  readonly accessKeyId?: string
  readonly secretAccessKey?: string
  readonly projectId?: string
  readonly connectionString?: string
  readonly container?: string
}

interface Started {
  readonly servers: Record<string, ServerInfo>
}

interface ServersModule {
  readonly startServers: (names: ReadonlyArray<string>) => Promise<Started>
  readonly stopServers: (info: unknown) => Promise<unknown>
}

// The same variables as scripts/servers/env.mjs, for endpoints a user runs.
const fromEnv = (name: ServerName, env = process.env): ServerInfo | undefined => {
  const bucket = env.RELPUB_TEST_S3_BUCKET ?? "relpub-test"
  switch (name) {
    case "seaweedfs":
    case "moto":
      return env.RELPUB_TEST_S3_ENDPOINT === undefined ? undefined : {
        endpoint: env.RELPUB_TEST_S3_ENDPOINT,
        bucket,
        region: env.AWS_REGION ?? "us-east-1",
        ...(env.AWS_ACCESS_KEY_ID ? { accessKeyId: env.AWS_ACCESS_KEY_ID } : {}),
        ...(env.AWS_SECRET_ACCESS_KEY ? { secretAccessKey: env.AWS_SECRET_ACCESS_KEY } : {})
      }
    case "gcs":
      return env.RELPUB_TEST_GCS_ENDPOINT === undefined ? undefined : {
        endpoint: env.RELPUB_TEST_GCS_ENDPOINT,
        bucket: env.RELPUB_TEST_GCS_BUCKET ?? "relpub-test",
        projectId: env.RELPUB_TEST_GCS_PROJECT ?? "test"
      }
    case "azurite":
      return env.RELPUB_TEST_AZURE_CONNECTION_STRING === undefined ? undefined : {
        endpoint: "",
        connectionString: env.RELPUB_TEST_AZURE_CONNECTION_STRING,
        bucket: env.RELPUB_TEST_AZURE_CONTAINER ?? "relpub-test",
        container: env.RELPUB_TEST_AZURE_CONTAINER ?? "relpub-test"
      }
  }
}

const SCRIPTS = resolve(import.meta.dirname, "..", "..", "scripts", "servers")
const ENV_HINT: Record<ServerName, string> = {
  seaweedfs: "RELPUB_TEST_S3_ENDPOINT",
  moto: "RELPUB_TEST_S3_ENDPOINT",
  gcs: "RELPUB_TEST_GCS_ENDPOINT",
  azurite: "RELPUB_TEST_AZURE_CONNECTION_STRING"
}

const load = <A>(file: string): Promise<A> =>
  import(pathToFileURL(join(SCRIPTS, file)).href) as Promise<A>

/** A server to test against, and how to let it go. */
export interface Found {
  readonly info: ServerInfo
  readonly cleanup: () => Promise<void>
}

/** Acquires `name` once per test file; `reason()` says why nothing was found. */
export const serverFor = (name: ServerName) => {
  let reason: string | undefined
  const acquire = async (): Promise<Found | undefined> => {
    const notes: Array<string> = []
    // A user's own endpoint (MinIO, AWS, GCS, Azure) wins over the bundled servers.
    const own = fromEnv(name)
    if (own !== undefined) return { info: own, cleanup: async () => {} }
    if (existsSync(join(SCRIPTS, "servers.mjs"))) {
      const servers = await load<ServersModule>("servers.mjs")
      try {
        const started = await servers.startServers([name])
        const cleanup = () => servers.stopServers(started).then(() => undefined)
        return { info: started.servers[name]!, cleanup }
      } catch (e) {
        const message = (e as Error).message
        // Not installed is a reason to skip; any other failure is a failure.
        if (!/not found/.test(message)) throw e
        notes.push(message.split("\n")[0]!)
      }
    } else {
      notes.push("scripts/servers/servers.mjs is absent")
    }
    notes.push(`${ENV_HINT[name]} is not set`)
    reason = notes.join("; ")
    return undefined
  }
  return { acquire, reason: () => reason }
}
