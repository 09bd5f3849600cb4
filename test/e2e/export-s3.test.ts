// `packyard export --to s3://…` while apt reads the bucket (anonymously, as from a public bucket or
// a CDN in front of it): publish after publish, re-exported after each, apt-get update never sees
// a hash mismatch or a missing file, and at the end installs the last package.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { AwsClient } from 'aws4fetch';
import { aptInstall, aptUpdate, configureApt, freshChroot, isInstalled, type Chroot } from '../helpers/chroot.js';
import { buildDeb } from '../helpers/debs.js';
import { radosgw, type S3Server } from '../helpers/radosgw.js';
import { repoRoot, runOk } from '../helpers/exec.js';

let work: string;
let chroot: Chroot;
let s3: S3Server;
let env: Record<string, string>;

const cli = (args: string[]) => runOk('node', [join(repoRoot, 'bin/packyard.mjs'), ...args], { env, timeoutMs: 120_000 });

/** A new bucket anyone may read objects of (a bucket policy granting s3:GetObject to "*"). */
async function publicBucket(): Promise<string> {
  const bucket = `packyard-${randomUUID()}`;
  const client = new AwsClient({ accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, service: 's3', region: 'us-east-1' });
  const created = await client.fetch(`${s3.endpoint}/${bucket}`, { method: 'PUT' });
  if (!created.ok) throw new Error(`creating bucket ${bucket}: ${created.status} ${await created.text()}`);
  const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: ['s3:GetObject'], Resource: [`arn:aws:s3:::${bucket}/*`] }] };
  const res = await client.fetch(`${s3.endpoint}/${bucket}?policy`, { method: 'PUT', body: JSON.stringify(policy) });
  if (!res.ok) throw new Error(`bucket policy of ${bucket}: ${res.status} ${await res.text()}`);
  return bucket;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'packyard-export-s3-'));
  [chroot, s3] = await Promise.all([freshChroot(), radosgw()]);
  env = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_ENDPOINT_URL: s3.endpoint };
}, 600_000);

afterAll(async () => {
  await chroot?.dispose();
});

describe('export --to s3:// while apt reads the bucket', () => {
  it('never shows apt a mismatch across publishes, and apt installs the last package', async () => {
    const bucket = await publicBucket();
    const data = join(work, 'data');
    const to = `s3://${bucket}/apt`;
    const publish = async (round: number) => {
      // A payload so that each upload takes a moment and the exports overlap apt's reads.
      const deb = await buildDeb({ name: `tool-${round}`, version: `1.${round}`, arch: 'amd64', compression: 'gzip', files: { [`usr/share/tool-${round}/data`]: new Uint8Array(512 * 1024).map((_, j) => (j * 31 + round) & 255) } }, join(work, 'debs'));
      await cli(['add', '--create', '--data', data, '--repo', 'acme', '--distribution', 'stable', deb.path]);
      return cli(['export', '--data', data, '--repo', 'acme', '--to', to]);
    };
    const first = await publish(0);
    expect(first.stdout).toMatch(/files uploaded/);

    const keyring = join(work, 'acme.gpg');
    await cli(['key', 'export', '--data', data, '--output', keyring]);
    await configureApt(chroot.root, {
      sourcesLine: `deb [signed-by=/etc/apt/keyrings/acme.gpg] ${s3.endpoint}/${bucket}/apt stable main`,
      keyringBytes: new Uint8Array(await readFile(keyring)),
    });
    const initial = await aptUpdate(chroot.root);
    expect(initial.code, initial.stdout + initial.stderr).toBe(0);

    const ROUNDS = 6;
    let publishing = true;
    const exports: string[] = [];
    const publisher = (async () => {
      try {
        for (let round = 1; round < ROUNDS; round++) exports.push((await publish(round)).stdout);
      } finally {
        publishing = false;
      }
    })();
    let updates = 0;
    const failures: string[] = [];
    while (publishing || updates < 3) {
      const r = await aptUpdate(chroot.root);
      updates++;
      if (r.code !== 0 || /mismatch|Hash Sum|Failed to fetch|NOSPLIT|BADSIG/i.test(r.stdout + r.stderr)) failures.push(r.stdout + r.stderr);
    }
    await publisher;
    expect(failures).toEqual([]);
    expect(updates).toBeGreaterThanOrEqual(ROUNDS);
    // Each export after the first uploads the new package and the changed indexes, not the older packages.
    for (const out of exports) expect(out).toMatch(/: \d+ files uploaded, \d+ unchanged/);
    for (const out of exports) expect(Number(/: (\d+) files uploaded/.exec(out)![1])).toBeLessThan(12);

    const final = await aptUpdate(chroot.root);
    expect(final.code, final.stdout + final.stderr).toBe(0);
    const install = await aptInstall(chroot.root, [`tool-${ROUNDS - 1}`]);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    expect(await isInstalled(chroot.root, `tool-${ROUNDS - 1}`)).toBe(true);
  }, 600_000);
});
