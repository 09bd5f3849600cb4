// A data directory written by an earlier build (the v1 upgrade fixture, copied) moves into a
// radosgw bucket with `packyard migrate`; `packyard serve --storage s3://…` serves it, apt in the
// chroot verifies it with the fixture's committed key and installs from it with the stored read
// token, and fsck of the bucket is clean. Then back into a directory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { AwsClient } from 'aws4fetch';
import { aptInstall, aptUpdate, chrootRun, configureApt, freshChroot, type Chroot } from '../helpers/chroot.js';
import { repoRoot, run } from '../helpers/exec.js';
import { aptLine, startServer, type RunningServer } from '../helpers/server.js';
import { radosgw } from '../helpers/radosgw.js';

const FIXTURE = join(repoRoot, 'test/fixtures/upgrade');
const secrets = JSON.parse(readFileSync(join(FIXTURE, 'v1-secrets.json'), 'utf8')) as { read: string };
const expected = JSON.parse(readFileSync(join(FIXTURE, 'v1-expected.json'), 'utf8')) as { repos: { acme: { packages: { package: string; version: string }[] } } };
const fixtureKey = new Uint8Array(readFileSync(join(FIXTURE, 'v1-public.gpg')));

describe('packyard migrate of the v1 data directory into a bucket', () => {
  let work: string;
  let data: string;
  let env: Record<string, string>;
  let url: string;
  let chroot: Chroot;
  let server: RunningServer | undefined;
  const cli = (args: string[]) => run(process.execPath, [join(repoRoot, 'bin/packyard.mjs'), ...args], { cwd: repoRoot, env: { PACKYARD_URL: '', PACKYARD_TOKEN: '', PACKYARD_ADMIN_TOKEN: '', PACKYARD_DATA: '', PACKYARD_STORAGE: '', ...env }, timeoutMs: 120_000 });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'packyard-migrate-e2e-'));
    data = join(work, 'data');
    await cp(join(FIXTURE, 'v1-data'), data, { recursive: true });
    const s3 = await radosgw();
    env = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_ENDPOINT_URL: s3.endpoint };
    const bucket = `packyard-${randomUUID()}`;
    const res = await new AwsClient({ accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, service: 's3', region: 'us-east-1' }).fetch(`${s3.endpoint}/${bucket}`, { method: 'PUT' });
    expect(res.status).toBe(200);
    url = `s3://${bucket}/packyard`;
    chroot = await freshChroot();
  }, 600_000);

  afterAll(async () => {
    await server?.stop();
    await chroot?.dispose();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('copies every object, verified, and refuses to run again into the now non-empty bucket', async () => {
    const files = (await readdir(data, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).length;
    const r = await cli(['migrate', '--data', data, '--to', url, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ objects: files, skipped: 0, unfinishedUploads: 0 });
    const again = await cli(['migrate', '--data', data, '--to', url]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^packyard: the target holds objects .*--force.*\(409 target-not-empty\)\n$/);
    const forced = await cli(['migrate', '--data', data, '--to', url, '--force', '--json']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ objects: 0, skipped: files });
  }, 120_000);

  it('takes its ends from --data, --from and --to, with a clear error otherwise', async () => {
    const help = await cli(['migrate', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('packyard migrate --data ./packyard-data --to s3://');
    for (const args of [['--data', data], ['--data', data, '--from', url, '--to', url], ['--from', data, '--to', data], ['--data', data, '--to', 'http://x/']]) {
      const r = await cli(['migrate', ...args]);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(/^packyard: .*\n$/);
    }
  });

  it('is clean to fsck, and served from the bucket apt verifies it and installs with the stored read token', async () => {
    const fsck = await cli(['fsck', '--storage', url, '--json']);
    expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
    const reports = JSON.parse(fsck.stdout) as { repo: string; problems: unknown[] }[];
    expect(reports.map((x) => x.repo).sort()).toEqual(['acme', 'yum']);
    for (const x of reports) expect(x.problems, x.repo).toEqual([]);

    // The directory is moved aside: whatever apt gets now comes from the bucket.
    await rm(data, { recursive: true, force: true });
    server = await startServer({ storage: url, env, token: '' });
    expect(new Uint8Array(await (await fetch(`${server.url}/acme/public.gpg`)).arrayBuffer())).toEqual(fixtureKey);
    expect((await fetch(`${server.url}/acme/dists/stable/InRelease`)).status).toBe(401);
    await configureApt(chroot.root, { sourcesLine: aptLine(server.url, 'acme', 'stable', 'main'), keyringBytes: fixtureKey, authConf: `machine ${server.url}/acme login apt password ${secrets.read}` });
    const update = await aptUpdate(chroot.root);
    expect(update.code, update.stdout + update.stderr).toBe(0);
    expect(update.stdout + update.stderr).not.toMatch(/NO_PUBKEY|not signed|Hash Sum mismatch/);
    const version = expected.repos.acme.packages.find((p) => p.package === 'acme-tool')!.version;
    const install = await aptInstall(chroot.root, [`acme-tool=${version}`]);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    const installed = await chrootRun(chroot.root, ['dpkg-query', '-W', '-f', '${Package} ${Version}\n', 'acme-tool']);
    expect(installed.stdout.trim()).toBe(`acme-tool ${version}`);
  }, 300_000);

  it('moves back out of the bucket into a new data directory that fsck finds clean', async () => {
    const back = join(work, 'back');
    const r = await cli(['migrate', '--from', url, '--data', back, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).objects).toBeGreaterThan(90);
    const fsck = await cli(['fsck', '--data', back, '--json']);
    expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
    for (const x of JSON.parse(fsck.stdout) as { problems: unknown[] }[]) expect(x.problems).toEqual([]);
  }, 120_000);
});
