// How the cloud suite talks to each test server: the repository flags of
// bin/relpub, the child environment (credentials), the request lines that
// write a key (for the fault proxy's rules) and the credential variants of
// the secrets test.
import * as fs from "node:fs"
import * as path from "node:path"
import type { ServerInfo, ServerName } from "../contract/servers.ts"

/** Credentials to run every command with, and the strings that must never be shown. */
export interface SecretCase {
  readonly title: string
  readonly env: Readonly<Record<string, string>>
  /** Repository flags for `root` with these credentials (default: the target's). */
  readonly repository?: (root: string) => ReadonlyArray<string>
  /** Whether the server accepts them; if not, every command fails with 36. */
  readonly accepted: boolean
  /** The server cannot refuse them: also run through a proxy that answers 403 to everything. */
  readonly refuseThroughProxy?: boolean
  readonly secrets: ReadonlyArray<string>
}

export interface CloudTarget {
  readonly name: ServerName
  readonly info: ServerInfo
  /** scheme://host:port of the server: what a fault proxy forwards to. */
  readonly origin: string
  /** Repository flags for the repository at `root`, reached through `origin` (default: the server). */
  readonly repository: (root: string, origin?: string) => ReadonlyArray<string>
  /** The same repository in the original specification's flags (--repository-type, -bucket, -prefix). */
  readonly typedRepository: (root: string) => ReadonlyArray<string>
  /** The same root in a bucket (or container) that does not exist. */
  readonly missingBucket: (root: string) => ReadonlyArray<string>
  /** The repository with `--endpoint endpoint` given as is (for usage errors). */
  readonly withEndpoint: (root: string, endpoint: string) => ReadonlyArray<string>
  /** Environment of every relpub child. */
  readonly env: Readonly<Record<string, string>>
  /** Request lines that send bytes of a key under `root`; `key` is a pattern with "/" separators. */
  readonly writeOf: (root: string, key: string) => RegExp
  /** Request lines that complete the upload of a key (the write that makes it exist). */
  readonly commitOf: (root: string, key: string) => RegExp
  /** A body for a 403 answered by the fault proxy, in the server's error format. */
  readonly forbiddenBody: string
  /** Credential variants for the secrets test; `dir` is a scratch directory. */
  readonly secrets: (canary: string, dir: string) => ReadonlyArray<SecretCase>
  /** Command lines refused as usage errors (2), with the secret each one carries. */
  readonly usageWithSecret: (
    root: string,
    canary: string
  ) => ReadonlyArray<{ readonly args: ReadonlyArray<string>; readonly secret: string }>
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
const MISSING = "relpub-missing-bucket"
const QUIET = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", NO_COLOR: "1" }

const s3Target = (name: ServerName, info: ServerInfo): CloudTarget => {
  const region = info.region ?? "us-east-1"
  const origin = new URL(info.endpoint).origin
  const bucket = info.bucket
  const credentials = {
    AWS_ACCESS_KEY_ID: info.accessKeyId ?? "",
    AWS_SECRET_ACCESS_KEY: info.secretAccessKey ?? "",
    AWS_SESSION_TOKEN: "",
    AWS_REGION: region
  }
  const repository = (root: string, through = origin) =>
    ["--repository", `s3://${bucket}/${root}`, "--endpoint", through, "--path-style", "--region", region]
  const key = (root: string, k: string) => `/${esc(bucket)}/${esc(root)}/${k}`
  const secretKey = info.secretAccessKey ?? ""
  return {
    name,
    info,
    origin,
    repository,
    typedRepository: (root) => [
      "--repository-type", "s3", "--repository-bucket", bucket, "--repository-prefix", root,
      "--endpoint", origin, "--path-style", "--region", region
    ],
    missingBucket: (root) =>
      ["--repository", `s3://${MISSING}/${root}`, "--endpoint", origin, "--path-style", "--region", region],
    withEndpoint: (root, endpoint) => repository(root, endpoint),
    env: { ...QUIET, ...credentials },
    writeOf: (root, k) => new RegExp(`^PUT ${key(root, k)}[? ]`),
    commitOf: (root, k) =>
      new RegExp(`^(PUT ${key(root, k)}\\?x-id=PutObject|POST ${key(root, k)}\\?uploadId=)`),
    forbiddenBody: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" +
      "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
    secrets: (canary) =>
      name === "moto"
        ? [{
          // moto accepts any credentials: the canaries are the credentials in use.
          title: "a canary secret key and session token",
          env: { AWS_SECRET_ACCESS_KEY: `${canary}-secret`, AWS_SESSION_TOKEN: `${canary}-token` },
          accepted: true,
          refuseThroughProxy: true,
          secrets: [`${canary}-secret`, `${canary}-token`]
        }]
        : [
          // SeaweedFS has one configured key pair: the real secret must not show either.
          { title: "the configured secret key", env: {}, accepted: true, secrets: [secretKey] },
          {
            title: "a wrong (canary) secret key",
            env: { AWS_SECRET_ACCESS_KEY: `${canary}-secret` },
            accepted: false,
            secrets: [`${canary}-secret`]
          },
          {
            title: "a session token the server does not know (canary)",
            env: { AWS_SESSION_TOKEN: `${canary}-token` },
            accepted: false,
            secrets: [`${canary}-token`, secretKey]
          }
        ],
    usageWithSecret: (root, canary) => [
      { args: ["list", ...repository(root, `http://AKIAEXAMPLE:${canary}@127.0.0.1:1`)], secret: canary }
    ]
  }
}

const gcsTarget = (info: ServerInfo): CloudTarget => {
  const origin = new URL(info.endpoint).origin
  const bucket = info.bucket
  const repository = (root: string, through = origin) =>
    ["--repository", `gs://${bucket}/${root}`, "--endpoint", through]
  const upload = (root: string, k: string) =>
    new RegExp(`^POST /upload/storage/v1/b/${esc(bucket)}/o\\?\\S*name=${
      `${esc(root)}/${k}`.replace(/\//g, "%2F")
    }[& ]`)
  return {
    name: "gcs",
    info,
    origin,
    repository,
    typedRepository: (root) => [
      "--repository-type", "gcs", "--repository-bucket", bucket, "--repository-prefix", root,
      "--endpoint", origin
    ],
    missingBucket: (root) => ["--repository", `gs://${MISSING}/${root}`, "--endpoint", origin],
    withEndpoint: (root, endpoint) => repository(root, endpoint),
    env: { ...QUIET, GOOGLE_APPLICATION_CREDENTIALS: "" },
    writeOf: upload,
    commitOf: upload,
    forbiddenBody: JSON.stringify({
      error: { code: 403, message: "Forbidden", errors: [{ reason: "forbidden" }] }
    }),
    secrets: (canary, dir) => {
      // fake-gcs-server takes no credentials (relpub sends none to an --endpoint): the canary
      // is a service-account key file in the environment, which relpub must never echo.
      const file = path.join(dir, "adc.json")
      fs.writeFileSync(file, JSON.stringify({
        type: "service_account",
        project_id: info.projectId ?? "test",
        private_key_id: `${canary}-key-id`,
        private_key: `-----BEGIN PRIVATE KEY-----\n${canary}-private-key\n-----END PRIVATE KEY-----\n`,
        client_email: "relpub-canary@test.iam.gserviceaccount.com",
        client_id: "1",
        token_uri: "http://127.0.0.1:1/token"
      }))
      return [{
        title: "a canary service-account key file (GOOGLE_APPLICATION_CREDENTIALS)",
        env: { GOOGLE_APPLICATION_CREDENTIALS: file },
        accepted: true,
        refuseThroughProxy: true,
        secrets: [`${canary}-key-id`, `${canary}-private-key`]
      }]
    },
    usageWithSecret: (root, canary) => [
      { args: ["list", ...repository(root, `http://user:${canary}@127.0.0.1:1`)], secret: canary }
    ]
  }
}

const azureTarget = (info: ServerInfo): CloudTarget => {
  const url = new URL(info.endpoint)
  const origin = url.origin
  const account = url.pathname.replace(/^\/+|\/+$/g, "")
  const container = info.container ?? info.bucket
  const connection = info.connectionString ?? ""
  const accountKey = /AccountKey=([^;]*)/.exec(connection)?.[1] ?? ""
  const connectionThrough = (through: string, key = accountKey) =>
    connection.replace(/BlobEndpoint=[^;]*/, `BlobEndpoint=${through}/${account}`)
      .replace(/AccountKey=[^;]*/, `AccountKey=${key}`)
  const repository = (root: string, through = origin) =>
    ["--repository", connectionThrough(through), "--repository-bucket", container, "--repository-prefix", root]
  const blob = (root: string, k: string) => `/${esc(account)}/${esc(container)}/${esc(root)}/${k}`
  const azUrl = (root: string, endpoint: string) =>
    ["--repository", `az://${account}/${container}/${root}`, "--endpoint", endpoint]
  return {
    name: "azurite",
    info,
    origin,
    repository,
    // The account and key come from AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY.
    typedRepository: (root) => [
      "--repository-type", "azure", "--repository-bucket", container, "--repository-prefix", root,
      "--endpoint", info.endpoint
    ],
    missingBucket: (root) =>
      ["--repository", connection, "--repository-bucket", MISSING, "--repository-prefix", root],
    withEndpoint: azUrl,
    env: { ...QUIET, AZURE_STORAGE_ACCOUNT: account, AZURE_STORAGE_KEY: accountKey },
    writeOf: (root, k) => new RegExp(`^PUT ${blob(root, k)}[? ]`),
    // Put Blob (files up to 64 MiB), or the block list that commits staged blocks.
    commitOf: (root, k) => new RegExp(`^PUT ${blob(root, k)}( |\\?comp=blocklist)`),
    forbiddenBody: "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n" +
      "<Error><Code>AuthorizationFailure</Code><Message>refused</Message></Error>",
    secrets: (canary) => {
      // A wrong key must still be valid base64 for the SDK to sign with it.
      const wrongKey = Buffer.from(`${canary}-account-key`).toString("base64")
      return [
        {
          title: "Azurite's account key in a connection string",
          env: {},
          accepted: true,
          secrets: [accountKey]
        },
        {
          title: "the account key in AZURE_STORAGE_KEY with an az:// URL",
          env: {},
          repository: (root) => azUrl(root, info.endpoint),
          accepted: true,
          secrets: [accountKey]
        },
        {
          title: "a wrong (canary) account key in the connection string",
          env: { AZURE_STORAGE_KEY: wrongKey },
          repository: (root) =>
            ["--repository", connectionThrough(origin, wrongKey), "--repository-bucket", container,
              "--repository-prefix", root],
          accepted: false,
          secrets: [wrongKey, accountKey]
        }
      ]
    },
    usageWithSecret: (root, canary) => {
      const wrongKey = Buffer.from(`${canary}-usage`).toString("base64")
      return [
        { args: ["list", ...azUrl(root, `http://${account}:${canary}@127.0.0.1:1`)], secret: canary },
        // No container: refused before any request, with the connection string in the message.
        {
          args: ["list", "--repository", connectionThrough(origin, wrongKey), "--repository-prefix", root],
          secret: wrongKey
        }
      ]
    }
  }
}

/** The target for a started (or user-given) server. */
export const targetFor = (name: ServerName, info: ServerInfo): CloudTarget => {
  switch (name) {
    case "seaweedfs":
    case "moto":
      return s3Target(name, info)
    case "gcs":
      return gcsTarget(info)
    case "azurite":
      return azureTarget(info)
  }
}
