/**
 * Object storage: an S3 client for any S3-compatible endpoint (Linode Object Storage in
 * production, SeaweedFS in tests) and the embedded S3 server the dev stack uses when no
 * endpoint is configured. Checksums only when required: S3-compatible stores reject the
 * 2025 SDK defaults.
 */
import { mkdirSync } from 'node:fs';
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';

export interface ObjectStorageConfig {
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** The variables of `objectStorageEnv` (config.ts), as parsed. */
export interface ObjectStorageVariables {
  OBJECT_STORAGE_ENDPOINT?: string | undefined;
  OBJECT_STORAGE_BUCKET: string;
  OBJECT_STORAGE_REGION: string;
  OBJECT_STORAGE_ACCESS_KEY?: string | undefined;
  OBJECT_STORAGE_SECRET_KEY?: string | undefined;
}

/** The storage the OBJECT_STORAGE_* variables name; undefined when no endpoint is set. */
export function storageConfigFromEnv(v: ObjectStorageVariables): ObjectStorageConfig | undefined {
  if (!v.OBJECT_STORAGE_ENDPOINT) return undefined;
  if (!v.OBJECT_STORAGE_ACCESS_KEY || !v.OBJECT_STORAGE_SECRET_KEY) {
    throw new Error('OBJECT_STORAGE_ACCESS_KEY and OBJECT_STORAGE_SECRET_KEY are required when OBJECT_STORAGE_ENDPOINT is set');
  }
  return {
    endpoint: v.OBJECT_STORAGE_ENDPOINT,
    bucket: v.OBJECT_STORAGE_BUCKET,
    region: v.OBJECT_STORAGE_REGION,
    accessKeyId: v.OBJECT_STORAGE_ACCESS_KEY,
    secretAccessKey: v.OBJECT_STORAGE_SECRET_KEY,
  };
}

/** The OBJECT_STORAGE_* variables that name `config`, for a child process. */
export function storageEnv(config: ObjectStorageConfig): Record<string, string> {
  return {
    OBJECT_STORAGE_ENDPOINT: config.endpoint,
    OBJECT_STORAGE_BUCKET: config.bucket,
    OBJECT_STORAGE_REGION: config.region,
    OBJECT_STORAGE_ACCESS_KEY: config.accessKeyId,
    OBJECT_STORAGE_SECRET_KEY: config.secretAccessKey,
  };
}

export interface ObjectStorage {
  client: S3Client;
  bucket: string;
  config: ObjectStorageConfig;
  /** HeadBucket: throws when the bucket is unreachable or the keys are refused. */
  check(): Promise<void>;
  /** Creates the bucket when it is missing (dev and tests; production buckets are provisioned). */
  ensureBucket(): Promise<void>;
  close(): void;
}

export function createObjectStorage(config: ObjectStorageConfig): ObjectStorage {
  const client = new S3Client({
    endpoint: config.endpoint,
    region: config.region,
    forcePathStyle: true,
    credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 2,
  });
  const head = () => client.send(new HeadBucketCommand({ Bucket: config.bucket }));
  return {
    client,
    bucket: config.bucket,
    config,
    async check() {
      await head();
    },
    async ensureBucket() {
      try {
        await head();
      } catch (error) {
        const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status !== 404) throw error;
        await client.send(new CreateBucketCommand({ Bucket: config.bucket }));
      }
    },
    close() {
      client.destroy();
    },
  };
}

/** Credentials of the embedded server (s3rver accepts only these). */
export const EMBEDDED_S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface EmbeddedS3 {
  endpoint: string;
  config: ObjectStorageConfig;
  close(): Promise<void>;
}

// s3rver ships no types; this is the part of its API we use
interface S3rverConstructor {
  new (options: {
    port: number;
    address: string;
    directory: string;
    silent: boolean;
    configureBuckets: { name: string; configs?: string[] }[];
  }): {
    run(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
  };
}
const s3rverModule = 's3rver';

/**
 * The browser uploads straight to object storage with the presigned POST (an XHR with upload
 * progress, which is preflighted) and reads results and cleaned garments from it (as WebGL
 * textures, which need CORS): any origin may GET, HEAD and POST. What may be written is
 * still what each signed policy allows. A real bucket needs the same rule (docs/WEB.md).
 */
export const EMBEDDED_S3_CORS = `<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>HEAD</AllowedMethod><AllowedMethod>POST</AllowedMethod><AllowedHeader>*</AllowedHeader><MaxAgeSeconds>3000</MaxAgeSeconds></CORSRule></CORSConfiguration>`;

/**
 * Starts an in-process S3-protocol server (s3rver) on loopback with the bucket created.
 * It checks neither signatures nor POST policies: dev and its own tests only; the security
 * tests run against SeaweedFS.
 */
export async function startEmbeddedS3({
  port = 0,
  host = '127.0.0.1',
  directory,
  bucket = 'proteus',
}: {
  port?: number;
  host?: string;
  directory: string;
  bucket?: string;
}): Promise<EmbeddedS3> {
  mkdirSync(directory, { recursive: true });
  const { default: S3rver } = (await import(s3rverModule)) as { default: S3rverConstructor };
  const server = new S3rver({ port, address: host, directory, silent: true, configureBuckets: [{ name: bucket, configs: [EMBEDDED_S3_CORS] }] });
  const address = await server.run();
  const endpoint = `http://${host}:${address.port}`;
  return {
    endpoint,
    config: { endpoint, bucket, region: 'us-east-1', ...EMBEDDED_S3_CREDENTIALS },
    close: () => server.close(),
  };
}
