// The tests' S3 server (test/helpers/ceph-cluster.ts: a one-node Ceph cluster with radosgw),
// loaded through tsx, so that the benchmarks and the tests talk to the same radosgw.
import { randomUUID } from 'node:crypto';
import { tsImport } from 'tsx/esm/api';
import { atExit } from './proc.mjs';

/** Starts the cluster (stopped at exit like every process a benchmark starts). */
export async function startRadosgw(options) {
  const { startCluster, createBucket } = await tsImport('../../test/helpers/ceph-cluster.ts', import.meta.url);
  const server = await startCluster(options);
  atExit(() => void server.stop());
  return {
    server,
    /** A new bucket: its s3:// URL and the AWS_* variables that reach it. */
    async bucket(name) {
      const bucket = `bench-${name}-${randomUUID().slice(0, 8)}`;
      return { url: `s3://${bucket}`, env: await createBucket(server, bucket) };
    },
  };
}
