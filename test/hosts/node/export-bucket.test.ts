// Export of a repository into a bucket (a real radosgw): only what changed is uploaded, in an order
// that never shows a reader an index naming a file not there yet, and superseded files go only
// after their grace period.
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDeb } from '../../helpers/debs.js';
import { emptyS3 } from '../../helpers/radosgw.js';
import { repoRoot, run, runOk } from '../../helpers/exec.js';
import { openDataDir } from '../../../src/hosts/node/runtime.js';
import { exportTo } from '../../../src/hosts/node/export.js';
import { bucketTarget, MANIFEST } from '../../../src/hosts/node/export-bucket.js';
import { readJson } from '../../../src/storage/types.js';
import type { S3Storage } from '../../../src/storage/s3.js';

const cli = (args: string[]) => runOk('node', [join(repoRoot, 'bin/packyard.mjs'), ...args], { timeoutMs: 120_000 });

let work: string;
let data: string;

async function addPackage(name: string, version = '1.0') {
  const deb = await buildDeb({ name, version, arch: 'amd64', compression: 'gzip' }, join(work, 'debs'));
  await cli(['add', '--create', '--data', data, '--repo', 'acme', '--distribution', 'stable', deb.path]);
  return deb;
}

async function removePackage(name: string, version: string) {
  const runtime = await openDataDir(data, { headTtlMs: 0 });
  await runtime.service.remove('acme', { distribution: 'stable', component: 'main', package: name, version, architecture: 'amd64' }, 'test');
}

/** A bucket whose PUTs and DELETEs are recorded, in the order they were sent (paths below the prefix). */
async function recordedBucket(): Promise<{ bucket: S3Storage; puts: string[]; deletes: string[] }> {
  const puts: string[] = [];
  const deletes: string[] = [];
  const bucket = await emptyS3({
    fetch: (request) => {
      const path = decodeURIComponent(new URL(request.url).pathname.split('/').slice(3).join('/'));
      if (request.method === 'PUT') puts.push(path);
      if (request.method === 'DELETE') deletes.push(path);
      return fetch(request);
    },
  });
  return { bucket, puts, deletes };
}

async function exportInto(bucket: S3Storage, graceMs: number, now?: () => Date) {
  const runtime = await openDataDir(data, { headTtlMs: 0 });
  return exportTo(runtime, 'acme', bucketTarget(bucket, { graceMs, now }), bucket.url);
}

const stageOf = (path: string) => (path === MANIFEST ? 3 : /\/(InRelease|Release|Release\.gpg)$/.test(path) ? 2 : path.startsWith('pool/') || path.includes('/by-hash/') ? 0 : 1);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'packyard-export-bucket-'));
  data = join(work, 'data');
}, 120_000);

describe('export to a bucket', () => {
  it('uploads pool and by-hash files, then the other indexes, then InRelease and Release; the second time only what changed', async () => {
    const { bucket, puts } = await recordedBucket();
    await addPackage('alpha');
    const first = await exportInto(bucket, 86_400_000);
    expect(first.uploaded).toBeGreaterThan(5);
    expect(first.unchanged).toBe(0);
    const stages = puts.map(stageOf);
    expect(stages, puts.join('\n')).toEqual([...stages].sort());
    expect(puts).toContain('dists/stable/InRelease');
    expect(puts.filter((p) => p.startsWith('pool/'))).toHaveLength(1);
    expect(puts.at(-1)).toBe(MANIFEST);
    expect((await bucket.head('pool/main/a/alpha/alpha_1.0_amd64.deb'))?.size).toBeGreaterThan(0);
    const res = await fetch(await bucket.presignedGet('dists/stable/main/binary-amd64/Packages.gz', 60));
    expect(res.headers.get('content-type')).toBe('application/gzip');
    await res.body?.cancel();

    // Nothing changed: nothing but the manifest is written.
    puts.length = 0;
    const again = await exportInto(bucket, 86_400_000);
    expect(again).toMatchObject({ uploaded: 0, unchanged: first.uploaded, deleted: 0 });
    expect(puts).toEqual([MANIFEST]);

    // A new package: its pool file, the changed indexes and their by-hash copies; never alpha again.
    puts.length = 0;
    await addPackage('beta');
    const third = await exportInto(bucket, 86_400_000);
    expect(puts.filter((p) => p.startsWith('pool/'))).toEqual(['pool/main/b/beta/beta_1.0_amd64.deb']);
    expect(puts).toContain('dists/stable/main/binary-amd64/Packages.gz');
    expect(puts.filter((p) => p.startsWith('public.'))).toEqual([]);
    expect(third.uploaded).toBe(puts.length - 1);
    const order = puts.map(stageOf);
    expect(order, puts.join('\n')).toEqual([...order].sort());
  }, 120_000);

  it('rewrites InRelease in a later second than the one it replaces, so that a reader revalidating it never gets a 304 for a changed file', async () => {
    const { bucket } = await recordedBucket();
    for (let round = 0; round < 3; round++) await addPackage(`gamma-${round}`);
    const runtime = await openDataDir(data, { headTtlMs: 0 });
    for (let round = 0; round < 3; round++) {
      // Start just after a second begins: the next export comes well within that second.
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000)));
      await exportTo(runtime, 'acme', bucketTarget(bucket, { graceMs: 86_400_000 }), bucket.url);
      const seen = await fetch(await bucket.presignedGet('dists/stable/InRelease', 60));
      const lastModified = seen.headers.get('last-modified')!;
      await seen.body?.cancel();
      await runtime.service.remove('acme', { distribution: 'stable', component: 'main', package: `gamma-${round}`, version: '1.0', architecture: 'amd64' }, 'test');
      await exportTo(runtime, 'acme', bucketTarget(bucket, { graceMs: 86_400_000 }), bucket.url);
      const revalidated = await fetch(await bucket.presignedGet('dists/stable/InRelease', 60), { headers: { 'if-modified-since': lastModified } });
      await revalidated.body?.cancel();
      expect(revalidated.status, `InRelease still dated ${lastModified}`).toBe(200);
    }
  }, 120_000);

  it('compares with the objects themselves when the manifest is missing', async () => {
    const { bucket, puts } = await recordedBucket();
    const first = await exportInto(bucket, 86_400_000);
    await bucket.delete(MANIFEST);
    await bucket.put('dists/stable/main/binary-amd64/Packages', 'not the index');
    await bucket.delete('dists/stable/Release');
    puts.length = 0;
    const again = await exportInto(bucket, 86_400_000);
    expect(puts.sort()).toEqual([MANIFEST, 'dists/stable/Release', 'dists/stable/main/binary-amd64/Packages'].sort());
    expect(again).toMatchObject({ uploaded: 2, unchanged: first.uploaded - 2 });
  }, 120_000);

  it('keeps superseded files through their grace period, and deletes them after it', async () => {
    const { bucket, deletes } = await recordedBucket();
    let clock = new Date('2026-01-01T00:00:00Z');
    const now = () => clock;
    await exportInto(bucket, 3_600_000, now);
    const before = (await readJson<{ files: Record<string, unknown> }>(bucket, MANIFEST))!.files;
    // alpha 1.0 removed, 2.0 added: the old pool file and the old indexes' by-hash copies are superseded.
    await addPackage('alpha', '2.0');
    await removePackage('alpha', '1.0');
    clock = new Date('2026-01-01T00:10:00Z');
    const second = await exportInto(bucket, 3_600_000, now);
    const manifest = (await readJson<{ files: Record<string, { since?: string }> }>(bucket, MANIFEST))!.files;
    const superseded = Object.keys(manifest).filter((p) => manifest[p]!.since);
    expect(superseded).toContain('pool/main/a/alpha/alpha_1.0_amd64.deb');
    expect(superseded.some((p) => p.includes('/by-hash/SHA256/'))).toBe(true);
    for (const p of superseded) expect(before[p], p).toBeDefined();
    expect(second).toMatchObject({ deleted: 0, kept: superseded.length });
    expect(deletes).toEqual([]);
    expect(await bucket.head('pool/main/a/alpha/alpha_1.0_amd64.deb')).not.toBeNull();

    // Within the grace period still (50 minutes after they stopped being listed): kept.
    clock = new Date('2026-01-01T01:00:00Z');
    expect(await exportInto(bucket, 3_600_000, now)).toMatchObject({ deleted: 0, kept: superseded.length });
    // After it: deleted, and forgotten by the manifest.
    clock = new Date('2026-01-01T01:10:00Z');
    expect(await exportInto(bucket, 3_600_000, now)).toMatchObject({ deleted: superseded.length, kept: 0 });
    expect(deletes.sort()).toEqual([...superseded].sort());
    expect(await bucket.head('pool/main/a/alpha/alpha_1.0_amd64.deb')).toBeNull();
    expect(await bucket.head('pool/main/a/alpha/alpha_2.0_amd64.deb')).not.toBeNull();
    const last = (await readJson<{ files: Record<string, { since?: string }> }>(bucket, MANIFEST))!.files;
    expect(Object.values(last).filter((e) => e.since)).toEqual([]);

    // Grace 0: a superseded file goes in the export that supersedes it.
    await addPackage('alpha', '3.0');
    await removePackage('alpha', '2.0');
    expect(await exportInto(bucket, 0, now)).toMatchObject({ kept: 0 });
    expect(await bucket.head('pool/main/a/alpha/alpha_2.0_amd64.deb')).toBeNull();
  }, 120_000);

  it('says what is wrong with the command line, without a stack trace', async () => {
    const packyard = (args: string[]) => run('node', [join(repoRoot, 'bin/packyard.mjs'), 'export', '--data', data, '--repo', 'acme', ...args]);
    const cases: [string[], RegExp][] = [
      [[], /give the directory to export to, or --to/],
      [[join(work, 'out'), '--to', join(work, 'other')], /one of them/],
      [['--to', 's3://Not_A_Bucket/x'], /is not an S3 location/],
      [['--to', join(work, 'out'), '--grace', '1d'], /--grace applies to an export to a bucket/],
      [['--to', 's3://some-bucket/x', '--grace', 'soon'], /invalid duration "soon"/],
    ];
    for (const [args, message] of cases) {
      const r = await packyard(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  }, 120_000);
});
