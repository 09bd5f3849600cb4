// A real `packyard serve` whose data directory is a 4 MiB tmpfs: uploads fill it until a write
// fails; that write is a 507 that says the disk is full (logged once a minute, not per request),
// reads keep working, and nothing was half-published (fsck is clean).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDeb, type DebFile } from '../../helpers/debs.js';
import { repoRoot, run } from '../../helpers/exec.js';
import { api, startServer, type RunningServer } from '../../helpers/server.js';

let work: string;
let data: string;
let mounted = false;
let server: RunningServer | undefined;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'packyard-full-'));
  data = join(work, 'data');
  await mkdir(data);
  const mount = await run('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', data]);
  mounted = mount.code === 0;
  if (!mounted) console.warn(`disk-full test skipped: mounting a tmpfs is not permitted here (${mount.stderr.trim()})`);
});

afterAll(async () => {
  await server?.stop({ keepData: true });
  if (mounted) await run('umount', [data]);
  await rm(work, { recursive: true, force: true });
});

describe('a full disk', () => {
  it('answers writes 507, keeps serving reads and publishes nothing by half', async (ctx) => {
    if (!mounted) return ctx.skip();
    server = await startServer({ dataDir: data });
    const client = api(server.url, server.token);
    await client.createRepo('acme');

    // Random payloads do not compress: each package takes about 700 KiB of the 4 MiB.
    const upload = async (i: number) => {
      const deb = await buildDeb({ name: `fill${i}`, version: '1.0', arch: 'all', compression: 'none', files: { 'usr/share/fill/blob': randomBytes(700_000) } }, work);
      const form = new FormData();
      form.append('file', new Blob([await readFile(deb.path)]), `fill${i}.deb`);
      return { deb, res: await client.fetch('/api/v1/repos/acme/packages?distribution=stable&component=main', { method: 'POST', body: form }) };
    };
    const debs: DebFile[] = [];
    let refused: Response | undefined;
    for (let i = 0; i < 12 && !refused; i++) {
      const { deb, res } = await upload(i);
      if (res.status === 201) debs.push(deb);
      else refused = res;
    }
    expect(debs.length).toBeGreaterThan(0);
    expect(refused?.status).toBe(507);
    const body = (await refused!.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('insufficient-storage');
    expect(body.error.message).toMatch(/disk.*full|out of (disk )?space/i);
    // A second refusal within the minute is not logged again.
    const again = await upload(99);
    expect(again.res.status).toBe(507);
    const logged = (await server.logTail(200_000)).split('\n').filter((line) => line.includes('"storage full"'));
    expect(logged).toHaveLength(1);

    const inRelease = await fetch(`${server.url}/acme/dists/stable/InRelease`);
    expect(inRelease.status).toBe(200);
    expect(await inRelease.text()).toContain(`Packages`);
    const first = debs[0]!;
    const pool = await fetch(`${server.url}/acme/pool/main/f/fill0/fill0_1.0_all.deb`);
    expect(pool.status).toBe(200);
    expect(Buffer.from(await pool.arrayBuffer()).equals(await readFile(first.path))).toBe(true);

    await server.stop({ keepData: true });
    server = undefined;
    const fsck = await run('node', [join(repoRoot, 'bin/packyard.mjs'), 'fsck', '--data', data, '--json'], { timeoutMs: 120_000 });
    expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
    expect(JSON.parse(fsck.stdout)[0].problems).toEqual([]);
  }, 120_000);
});
