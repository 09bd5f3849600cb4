// Several `packyard serve` nodes on one bucket of a real S3 server (Ceph's radosgw): concurrent
// publishes through both, a node killed in the middle of publishes, a large package in parts,
// pool files by presigned redirect, and clear errors for a bucket that cannot be used.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configureApt, freshChroot, aptUpdate, chrootRun, isInstalled, type Chroot } from '../helpers/chroot.js';
import { buildDeb, type DebFile } from '../helpers/debs.js';
import { repoRoot, run, type RunResult } from '../helpers/exec.js';
import { newBucket, radosgw } from '../helpers/radosgw.js';
import { api, aptLine, freePort, startServer, type RunningServer } from '../helpers/server.js';

let work: string;
let chroot: Chroot;
const servers: RunningServer[] = [];
const token = randomBytes(24).toString('hex');

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'packyard-s3-nodes-'));
  chroot = await freshChroot();
  await radosgw();
});

afterAll(async () => {
  for (const s of servers) await s.stop().catch(() => {});
  await chroot?.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Bucket {
  url: string;
  env: Record<string, string>;
}

async function bucket(): Promise<Bucket> {
  const { bucket, env } = await newBucket();
  return { url: `s3://${bucket}/store`, env };
}

/** A node on the bucket; every node shares the admin token from the environment. */
async function node(b: Bucket, args: string[] = []): Promise<RunningServer> {
  const s = await startServer({ storage: b.url, env: b.env, token, args });
  servers.push(s);
  return s;
}

function cli(args: string[], env: Record<string, string | undefined>, timeoutMs = 120_000): Promise<RunResult> {
  return run(process.execPath, [join(repoRoot, 'bin/packyard.mjs'), ...args], { env, timeoutMs });
}

/** `count` packages named `<prefix>-<i>`, each with a payload of `payload` bytes. */
async function batch(prefix: string, count: number, payload = 1024): Promise<DebFile[]> {
  const out: DebFile[] = [];
  for (let i = 0; i < count; i++) {
    out.push(await buildDeb({ name: `${prefix}-${i}`, version: '1.0', arch: 'amd64', compression: 'gzip', files: { [`usr/share/${prefix}/${i}`]: randomBytes(payload) } }, join(work, prefix)));
  }
  return out;
}

async function packageNames(s: RunningServer, repo: string): Promise<Set<string>> {
  const res = await api(s.url, s.token).fetch(`/api/v1/repos/${repo}/packages`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { packages: { package: string }[] };
  return new Set(body.packages.map((p) => p.package));
}

/** Waits (a node caches the head briefly) until `s` lists every one of `names`. */
async function listsAll(s: RunningServer, repo: string, names: string[]): Promise<Set<string>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const listed = await packageNames(s, repo);
    if (names.every((n) => listed.has(n)) || Date.now() > deadline) return listed;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function sha256OfStream(body: ReadableStream<Uint8Array> | NodeJS.ReadableStream): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of body as AsyncIterable<Uint8Array>) hash.update(chunk);
  return hash.digest('hex');
}

/** The `Filename:` of `pkg` in the repository's amd64 Packages. */
async function poolPath(s: RunningServer, repo: string, pkg: string): Promise<string> {
  const res = await fetch(`${s.url}/${repo}/dists/stable/main/binary-amd64/Packages`);
  expect(res.status).toBe(200);
  const stanza = (await res.text()).split('\n\n').find((x) => x.startsWith(`Package: ${pkg}\n`));
  expect(stanza, `${pkg} in Packages`).toBeDefined();
  return /^Filename: (.+)$/m.exec(stanza!)![1]!;
}

async function pointApt(s: RunningServer, repo: string): Promise<void> {
  await configureApt(chroot.root, { sourcesLine: aptLine(s.url, repo, 'stable', 'main'), keyringBytes: await api(s.url, s.token).publicKey(repo) });
  const update = await aptUpdate(chroot.root);
  expect(update.code, update.stdout + update.stderr).toBe(0);
}

describe('two nodes on one bucket', () => {
  it('start together on an empty bucket, take 10 concurrent batches alternating nodes, and apt on the other node verifies and downloads them', async () => {
    const b = await bucket();
    const [a, c] = await Promise.all([node(b), node(b)]);
    // One signing key and one admin token for both: the key of a repository made on one is the other's.
    await api(a.url, token).createRepo('acme');
    const keyA = await api(a.url, token).publicKey('acme');
    expect(Buffer.from(await api(c.url, token).publicKey('acme')).equals(Buffer.from(keyA))).toBe(true);
    expect(Buffer.from(await api(c.url, token).publicKey('default')).equals(Buffer.from(keyA))).toBe(true);

    const batches = await Promise.all(Array.from({ length: 10 }, (_, i) => batch(`n${i}`, 5)));
    await Promise.all(batches.map((files, i) => api((i % 2 ? c : a).url, token).upload('acme', 'stable', 'main', files.map((f) => f.path))));
    const all = batches.flat();
    for (const s of [a, c]) {
      const listed = await listsAll(s, 'acme', all.map((f) => f.name));
      expect(all.filter((f) => !listed.has(f.name)).map((f) => f.name), `missing on ${s.url}`).toEqual([]);
    }

    // The first batch went up through a; apt reads it (and the rest) from c.
    await pointApt(c, 'acme');
    const dl = await chrootRun(chroot.root, ['apt-get', 'install', '-y', '--download-only', ...all.map((f) => f.name)]);
    expect(dl.code, dl.stdout + dl.stderr).toBe(0);
    for (const f of all) {
      const fetched = await readFile(join(chroot.root, 'var/cache/apt/archives', `${f.name}_1.0_amd64.deb`));
      expect(createHash('sha256').update(fetched).digest('hex'), f.name).toBe(f.sha256);
    }
  }, 240_000);

  it('keep serving while one is killed with SIGKILL in the middle of publishes, 5 times: fsck is clean and each batch is whole or absent', async () => {
    const b = await bucket();
    let victim = await node(b);
    const other = await node(b);
    await api(other.url, token).createRepo('acme');
    await api(other.url, token).upload('acme', 'stable', 'main', (await batch('seed', 1)).map((f) => f.path));

    let watching = true;
    const outages: string[] = [];
    let reads = 0;
    const watcher = (async () => {
      while (watching) {
        const res = await fetch(`${other.url}/acme/dists/stable/InRelease`).catch((e: Error) => e);
        reads++;
        if (res instanceof Error || res.status !== 200) outages.push(res instanceof Error ? res.message : String(res.status));
        if (!(res instanceof Error)) await res.arrayBuffer();
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    const batches: DebFile[][] = [];
    for (let round = 0; round < 5; round++) {
      const files = await batch(`k${round}`, 5, 256 * 1024);
      batches.push(files);
      const upload = api(victim.url, token).upload('acme', 'stable', 'main', files.map((f) => f.path)).catch(() => 'interrupted');
      // Kill at a different point of the publish each round.
      await new Promise((r) => setTimeout(r, 50 + round * 120));
      await victim.kill('SIGKILL');
      await upload;
      victim = await node(b);
    }
    watching = false;
    await watcher;
    expect(outages).toEqual([]);
    expect(reads).toBeGreaterThan(5);

    await new Promise((r) => setTimeout(r, 2000)); // past any node's head cache
    for (const s of [victim, other]) {
      const names = await packageNames(s, 'acme');
      for (const [i, files] of batches.entries()) {
        const present = files.filter((f) => names.has(f.name)).length;
        expect([0, files.length], `${s.url}, batch ${i}: ${present} of ${files.length} present`).toContain(present);
      }
    }
    const fsck = await cli(['fsck', '--storage', b.url, '--json'], b.env);
    expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
    for (const report of JSON.parse(fsck.stdout) as { problems: unknown[] }[]) expect(report.problems).toEqual([]);

    // Both still take publishes.
    const after = await batch('after', 2);
    await api(victim.url, token).upload('acme', 'stable', 'main', [after[0]!.path]);
    await api(other.url, token).upload('acme', 'stable', 'main', [after[1]!.path]);
    const listed = await listsAll(other, 'acme', ['after-0', 'after-1']);
    expect(listed.has('after-0') && listed.has('after-1')).toBe(true);
  }, 240_000);
});

describe('a node on S3', () => {
  it('takes a 300 MB .deb in parts and gives the same bytes back, its memory not growing by the file', async () => {
    const b = await bucket();
    const s = await node(b);
    await api(s.url, token).createRepo('big');
    const huge = await buildDeb({ name: 'huge', version: '1.0', arch: 'amd64', compression: 'none', files: { 'usr/share/huge/blob': randomBytes(300 * 1024 * 1024) } }, join(work, 'huge'));
    expect(huge.size).toBeGreaterThan(300 * 1024 * 1024);

    const rss = () => readFile(`/proc/${s.proc.pid}/status`, 'utf8').then((t) => Number(/^VmRSS:\s+(\d+) kB/m.exec(t)![1]) * 1024);
    const before = await rss();
    let peak = before;
    const sampling = setInterval(() => void rss().then((n) => (peak = Math.max(peak, n)), () => {}), 100);
    const up = await cli(['upload', '--url', s.url, '--token', token, '--repo', 'big', '--distribution', 'stable', '--component', 'main', '--resumable-above', String(16 * 1024 * 1024), huge.path], {}, 300_000);
    clearInterval(sampling);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    // Parts are held one at a time (32 MB each), never the whole file.
    expect(peak - before, `RSS grew from ${before} to ${peak}`).toBeLessThan(200 * 1024 * 1024);

    const res = await fetch(`${s.url}/big/${await poolPath(s, 'big', 'huge')}`);
    expect(res.status).toBe(200);
    expect(await sha256OfStream(res.body!)).toBe(huge.sha256);
    await rm(huge.path);
  }, 300_000);

  it('with --s3-redirect answers a pool GET with a presigned URL radosgw serves, a HEAD directly, and apt installs through it', async () => {
    const b = await bucket();
    const s = await node(b, ['--s3-redirect']);
    await api(s.url, token).createRepo('acme');
    const [deb] = await batch('redir', 1);
    await api(s.url, token).upload('acme', 'stable', 'main', [deb!.path]);
    const pool = `${s.url}/acme/${await poolPath(s, 'acme', deb!.name)}`;

    const res = await fetch(pool, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const location = res.headers.get('location')!;
    expect(location.startsWith((await radosgw()).endpoint)).toBe(true);
    const direct = await fetch(location);
    expect(direct.status).toBe(200);
    expect(createHash('sha256').update(new Uint8Array(await direct.arrayBuffer())).digest('hex')).toBe(deb!.sha256);

    const head = await fetch(pool, { method: 'HEAD', redirect: 'manual' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(deb!.size));

    await pointApt(s, 'acme');
    const install = await chrootRun(chroot.root, ['apt-get', 'install', '-y', deb!.name]);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    expect(await isInstalled(chroot.root, deb!.name)).toBe(true);
  }, 120_000);
});

describe('a bucket that cannot be used', () => {
  const noStack = (r: RunResult) => expect(r.stderr + r.stdout).not.toMatch(/^\s+at /m);
  const serve = async (storage: string, env: Record<string, string | undefined>) =>
    cli(['serve', '--storage', storage, '--host', '127.0.0.1', '--port', String(await freePort())], env, 60_000);

  it('without credentials, a missing bucket or a wrong endpoint: serve exits with a clear message', async () => {
    const { env } = await bucket();
    const none = { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_ENDPOINT_URL: env.AWS_ENDPOINT_URL, PACKYARD_ADMIN_TOKEN: token };
    const noCreds = await serve('s3://bad', none);
    expect(noCreds.code).not.toBe(0);
    expect(noCreds.stderr).toMatch(/AWS_ACCESS_KEY_ID/);
    noStack(noCreds);

    const missing = await serve('s3://packyard-no-such-bucket', { ...env, PACKYARD_ADMIN_TOKEN: token });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/packyard-no-such-bucket/);
    expect(missing.stderr).toMatch(/no such bucket|does not exist|NoSuchBucket/i);
    noStack(missing);

    const wrong = await serve('s3://bad', { ...env, AWS_ENDPOINT_URL: `http://127.0.0.1:${await freePort()}`, PACKYARD_ADMIN_TOKEN: token });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/127\.0\.0\.1/);
    noStack(wrong);
  }, 120_000);
});
