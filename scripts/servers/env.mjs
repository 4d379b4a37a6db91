// The environment variables that point the test suite at cloud endpoints,
// both ways: from a running set of local servers (startServers' info) to
// variables, and from variables (a user's own endpoints) to server records.
// A backend whose variables are absent is skipped by the tests.
const DEFAULT_BUCKET = "relpub-test"

/** Variables for the servers in `info`; S3 comes from SeaweedFS, else moto. */
export function envFromInfo(info) {
  const env = {}
  const s3 = info.servers.seaweedfs ?? info.servers.moto
  if (s3) {
    Object.assign(env, {
      RELPUB_TEST_S3_ENDPOINT: s3.endpoint,
      RELPUB_TEST_S3_BUCKET: s3.bucket,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_REGION: s3.region
    })
  }
  const gcs = info.servers.gcs
  if (gcs) Object.assign(env, { RELPUB_TEST_GCS_ENDPOINT: gcs.endpoint, RELPUB_TEST_GCS_BUCKET: gcs.bucket })
  const azure = info.servers.azurite
  if (azure) {
    Object.assign(env, {
      RELPUB_TEST_AZURE_CONNECTION_STRING: azure.connectionString,
      RELPUB_TEST_AZURE_CONTAINER: azure.container
    })
  }
  return env
}

/** Server records (same shape as startServers' info) for the endpoints named in `env`. */
export function serversFromEnv(env = process.env) {
  const servers = {}
  if (env.RELPUB_TEST_S3_ENDPOINT) {
    servers.s3 = {
      name: "s3", kind: "s3", endpoint: env.RELPUB_TEST_S3_ENDPOINT,
      bucket: env.RELPUB_TEST_S3_BUCKET ?? DEFAULT_BUCKET,
      region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1",
      accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY
    }
  }
  if (env.RELPUB_TEST_GCS_ENDPOINT) {
    servers.gcs = {
      name: "gcs", kind: "gcs", endpoint: env.RELPUB_TEST_GCS_ENDPOINT,
      bucket: env.RELPUB_TEST_GCS_BUCKET ?? DEFAULT_BUCKET, projectId: env.RELPUB_TEST_GCS_PROJECT ?? "test"
    }
  }
  if (env.RELPUB_TEST_AZURE_CONNECTION_STRING) {
    const container = env.RELPUB_TEST_AZURE_CONTAINER ?? DEFAULT_BUCKET
    servers.azure = {
      name: "azure", kind: "azure", connectionString: env.RELPUB_TEST_AZURE_CONNECTION_STRING, container, bucket: container
    }
  }
  return { version: 1, servers }
}
