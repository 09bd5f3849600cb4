// workerd on-prem (deploy/workerd/packyard.capnp): its data directory is the Node host's, so a
// directory filled by `packyard add` is served by workerd, and what workerd publishes passes
// `packyard fsck`; and it outlives a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDeb } from '../../helpers/debs.js';
import { repoRoot, run } from '../../helpers/exec.js';
import { api } from '../../helpers/server.js';
import { startWorkerd, type StartedWorkerd } from '../../helpers/worker.js';
import { emptyS3, radosgw } from '../../helpers/radosgw.js';

const cli = (args: string[]) => run('node', [join(repoRoot, 'bin/packyard.mjs'), ...args], { timeoutMs: 120_000 });

let work: string;
let data: string;
let workerd: StartedWorkerd | undefined;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'packyard-onprem-'));
  data = join(work, 'data');
});

afterAll(async () => {
  await workerd?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('workerd on-prem over a data directory', () => {
  it('serves what `packyard add` put there, publishes beside it, and stays fsck-clean across a restart', async () => {
    const seeded = await buildDeb({ name: 'seeded', version: '1.0', arch: 'amd64', compression: 'xz' }, join(work, 'debs'));
    const added = await cli(['add', '--create', '--data', data, '--repo', 'acme', '--distribution', 'stable', seeded.path]);
    expect(added.code, added.stderr).toBe(0);
    const nodeKey = await cli(['key', 'export', '--data', data]);

    workerd = await startWorkerd({ data });
    // The Node host's signing key signs here too.
    expect(await (await fetch(`${workerd.url}/acme/public.key`)).text()).toBe(nodeKey.stdout);
    const published = await buildDeb({ name: 'published', version: '2.0', arch: 'all', compression: 'zstd' }, join(work, 'debs'));
    await api(workerd.url, workerd.token).upload('acme', 'stable', 'main', [published.path]);

    await workerd.stop();
    workerd = await startWorkerd({ data });
    // `packyard add` made the repository private: reads need a token.
    const auth = { headers: { authorization: `Bearer ${workerd.token}` } };
    expect((await fetch(`${workerd.url}/acme/dists/stable/InRelease`)).status).toBe(401);
    const packages = await (await fetch(`${workerd.url}/acme/dists/stable/main/binary-amd64/Packages`, auth)).text();
    expect(packages.match(/^Package: .*/gm)?.sort()).toEqual(['Package: published', 'Package: seeded']);
    const pool = await fetch(`${workerd.url}/acme/pool/main/s/seeded/seeded_1.0_amd64.deb`, auth);
    expect(Buffer.from(await pool.arrayBuffer()).length).toBe(seeded.size);

    await workerd.stop();
    workerd = undefined;
    const fsck = await cli(['fsck', '--data', data, '--json']);
    expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
    const [report] = JSON.parse(fsck.stdout) as { problems: unknown[]; checked: number }[];
    expect(report!.problems).toEqual([]);
    expect(report!.checked).toBeGreaterThan(10);
  });
});

describe('workerd on-prem over a bucket', () => {
  it('shares an S3 bucket with the Node host: serves what `packyard add --storage` put there, and what it publishes passes `packyard fsck --storage`', async () => {
    const server = await radosgw();
    const bucket = await emptyS3();
    const url = `s3://${bucket.bucketName}/onprem`;
    const env = { AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey, AWS_ENDPOINT_URL: server.endpoint };
    const s3cli = (args: string[]) => run('node', [join(repoRoot, 'bin/packyard.mjs'), ...args], { timeoutMs: 120_000, env });
    const seeded = await buildDeb({ name: 'seeded', version: '1.0', arch: 'amd64', compression: 'xz' }, join(work, 'debs-s3'));
    const added = await s3cli(['add', '--create', '--storage', url, '--repo', 'acme', '--distribution', 'stable', seeded.path]);
    expect(added.code, added.stderr).toBe(0);
    const nodeKey = await s3cli(['key', 'export', '--storage', url]);

    const onBucket = await startWorkerd({ env: { PACKYARD_STORAGE: url, ...env }, allowLocal: true });
    try {
      expect(await (await fetch(`${onBucket.url}/acme/public.key`)).text()).toBe(nodeKey.stdout);
      const published = await buildDeb({ name: 'published', version: '2.0', arch: 'all', compression: 'zstd' }, join(work, 'debs-s3'));
      await api(onBucket.url, onBucket.token).upload('acme', 'stable', 'main', [published.path]);
      const auth = { headers: { authorization: `Bearer ${onBucket.token}` } };
      const pool = await fetch(`${onBucket.url}/acme/pool/main/s/seeded/seeded_1.0_amd64.deb`, auth);
      expect(Buffer.from(await pool.arrayBuffer()).length).toBe(seeded.size);
    } finally {
      await onBucket.stop();
    }
    const listed = await s3cli(['ls', '--storage', url, '--repo', 'acme', '--json']);
    expect((JSON.parse(listed.stdout) as { package: string }[]).map((p) => p.package).sort()).toEqual(['published', 'seeded']);
    const fsck = await s3cli(['fsck', '--storage', url, '--json']);
    expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
    expect((JSON.parse(fsck.stdout) as { problems: unknown[] }[])[0]!.problems).toEqual([]);
  }, 180_000);
});
