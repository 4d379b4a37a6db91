import { assert, describe, it } from "@effect/vitest"
import { Either, Redacted } from "effect"
import {
  describeTarget,
  parseRepository,
  redact,
  type RepositoryOptions,
  type RepositoryTarget
} from "../../src/services/RepositoryUrl.ts"

const KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
const CONNECTION =
  `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${KEY};` +
  "EndpointSuffix=core.windows.net"

const parsed = (options: RepositoryOptions): RepositoryTarget => {
  const result = parseRepository(options)
  if (Either.isLeft(result)) throw new Error(`expected a target, got: ${result.left.message}`)
  return result.right
}
const refused = (options: RepositoryOptions): string => {
  const result = parseRepository(options)
  if (Either.isRight(result)) {
    throw new Error(`expected a UsageError, got ${JSON.stringify(result.right)}`)
  }
  assert.strictEqual(result.left._tag, "UsageError")
  return result.left.message
}

describe("RepositoryUrl", () => {
  describe("#parseRepository", () => {
    it("returns the local default when nothing is given", () => {
      assert.deepStrictEqual(parsed({}), { kind: "local", path: "./artifact-repository" })
    })

    it("returns a local target for a path or a file:// URL", () => {
      assert.deepStrictEqual(parsed({ repository: "./out/repo" }), {
        kind: "local",
        path: "./out/repo"
      })
      assert.deepStrictEqual(parsed({ repository: "file:///srv/my%20repo" }), {
        kind: "local",
        path: "/srv/my repo"
      })
      assert.deepStrictEqual(parsed({ repositoryType: "local", repositoryPath: "/srv/r" }), {
        kind: "local",
        path: "/srv/r"
      })
    })

    it("returns an s3 target with endpoint, region and path style", () => {
      assert.deepStrictEqual(
        parsed({
          repository: "s3://releases/prod/",
          endpoint: "http://127.0.0.1:8333/",
          region: "eu-west-1",
          pathStyle: true
        }),
        {
          kind: "s3",
          bucket: "releases",
          prefix: "prod",
          region: "eu-west-1",
          endpoint: "http://127.0.0.1:8333",
          forcePathStyle: true
        }
      )
      assert.deepStrictEqual(
        parsed({ repositoryType: "s3", repositoryBucket: "b-1", repositoryPrefix: "a/b" }),
        {
          kind: "s3",
          bucket: "b-1",
          prefix: "a/b",
          region: undefined,
          endpoint: undefined,
          forcePathStyle: false
        }
      )
    })

    it("returns a gcs target for gs:// and --repository-type gcs", () => {
      assert.deepStrictEqual(parsed({ repository: "gs://my.bucket/x/y" }), {
        kind: "gcs",
        bucket: "my.bucket",
        prefix: "x/y",
        endpoint: undefined
      })
      assert.deepStrictEqual(parsed({ repositoryType: "GCS", repositoryBucket: "bkt" }), {
        kind: "gcs",
        bucket: "bkt",
        prefix: "",
        endpoint: undefined
      })
    })

    it("returns an azure target for az://account/container/prefix", () => {
      assert.deepStrictEqual(parsed({ repository: "az://acct/releases/prod/v1" }), {
        kind: "azure",
        container: "releases",
        prefix: "prod/v1",
        account: "acct",
        connectionString: undefined,
        endpoint: undefined
      })
    })

    it("returns an azure target for a connection string and --repository-bucket", () => {
      const target = parsed({
        repository: CONNECTION,
        repositoryBucket: "releases",
        repositoryPrefix: "p"
      })
      assert.strictEqual(target.kind, "azure")
      if (target.kind !== "azure") return
      assert.strictEqual(target.container, "releases")
      assert.strictEqual(target.prefix, "p")
      assert.strictEqual(Redacted.value(target.connectionString!), CONNECTION)
      assert.notInclude(String(target.connectionString), KEY)
      assert.notInclude(describeTarget(target), KEY)
    })

    it("fails naming the value when a connection string has no container", () => {
      const message = refused({ repository: CONNECTION })
      assert.include(message, "--repository-bucket")
      assert.notInclude(message, KEY)
    })

    it("fails naming the offending value", () => {
      assert.include(refused({ repository: "ftp://host/x" }), "ftp://host/x")
      assert.include(refused({ repository: "s3://Bad_Bucket!/x" }), "Bad_Bucket!")
      assert.include(refused({ repositoryType: "dropbox" }), "dropbox")
      assert.include(refused({ repository: "s3://b/../etc" }), "../etc")
      assert.include(
        refused({ repository: "gs://bkt", endpoint: "localhost:4443" }),
        "localhost:4443"
      )
      assert.include(refused({ repository: "s3://bucket", region: "Mars 1" }), "Mars 1")
      assert.include(refused({ repositoryType: "s3" }), "--repository-bucket")
    })

    it("fails when options contradict each other", () => {
      assert.include(
        refused({ repository: "s3://bucket/p", repositoryType: "gcs" }),
        "--repository-type"
      )
      assert.include(refused({ repository: "s3://bucket/p", repositoryPrefix: "q" }), "twice")
      assert.include(refused({ repository: "gs://bucket", pathStyle: true }), "--path-style")
      assert.include(
        refused({ repository: "./repo", endpoint: "http://127.0.0.1:1" }),
        "--endpoint"
      )
    })

    it("refuses credentials in URLs without echoing them", () => {
      const message = refused({ repository: "s3://AKIAEXAMPLE:wJalrXUtnFEMI@bucket/p" })
      assert.notInclude(message, "wJalrXUtnFEMI")
      assert.notInclude(
        refused({ repository: "gs://b", endpoint: "http://u:hunter2@127.0.0.1:1" }),
        "hunter2"
      )
    })
  })

  describe("#redact", () => {
    it("hides account keys, SAS signatures, presigned signatures and URL credentials", () => {
      assert.notInclude(redact(CONNECTION), KEY)
      assert.include(redact(CONNECTION), "AccountName=acct")
      const sas = "https://acct.blob.core.windows.net/c?sv=2024-01-01&sp=r&sig=abc%2Fdef%3D&se=2030"
      assert.strictEqual(
        redact(sas),
        "https://acct.blob.core.windows.net/c?sv=2024-01-01&sp=r&sig=***&se=2030"
      )
      const sasString =
        "BlobEndpoint=https://a.blob.core.windows.net;SharedAccessSignature=sv=1&sig=zzz"
      assert.notInclude(redact(sasString), "zzz")
      assert.notInclude(
        redact("https://b.s3.amazonaws.com/k?X-Amz-Signature=f00d&X-Amz-Expires=60"),
        "f00d"
      )
      assert.strictEqual(redact("http://user:pa55@127.0.0.1:9000/b"), "http://***@127.0.0.1:9000/b")
      assert.strictEqual(redact("s3://releases/prod"), "s3://releases/prod")
    })
  })
})
