// The tests' S3 server: one Ceph cluster (ceph-cluster.ts) per test process, started on first
// use and stopped after all its tests.
import { afterAll } from 'vitest';
import { randomUUID } from 'node:crypto';
import { S3Storage, s3Config, type S3Config } from '../../src/storage/s3.js';
import { createBucket, startCluster, type S3Server } from './ceph-cluster.js';

export type { S3Server } from './ceph-cluster.js';

let running: Promise<S3Server> | undefined;
afterAll(async () => {
  const server = running;
  running = undefined;
  await (await server?.catch(() => undefined))?.stop();
});

/** The test process's cluster, started on first call. */
export function radosgw(): Promise<S3Server> {
  running ??= startCluster();
  return running;
}

/** A new bucket of the test process's cluster, with the AWS_* variables that reach it. */
export async function newBucket(): Promise<{ bucket: string; env: Record<string, string> }> {
  const bucket = `packyard-${randomUUID()}`;
  return { bucket, env: await createBucket(await radosgw(), bucket) };
}

/** An S3Storage on a new bucket of the test process's cluster, under a prefix (which it must keep to). */
export async function emptyS3(options: Partial<S3Config> = {}): Promise<S3Storage> {
  const { bucket, env } = await newBucket();
  return new S3Storage({ ...s3Config(`s3://${bucket}/store`, env), ...options });
}
