// Atomic publishing against a real server: concurrent batches, apt reading while the
// repository changes, and a server killed with SIGKILL in the middle of publishes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aptRoot, type AptRoot } from '../helpers/chroot.js';
import { buildDeb, type DebFile } from '../helpers/debs.js';
import { api, ApiError, aptLine, startServer, type RunningServer } from '../helpers/server.js';
import { run, repoRoot } from '../helpers/exec.js';

let work: string;
const servers: RunningServer[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'packyard-safety-'));
});

afterAll(async () => {
  for (const s of servers) await s.stop().catch(() => {});
});

async function server(options: Parameters<typeof startServer>[0] = {}): Promise<RunningServer> {
  const s = await startServer(options);
  servers.push(s);
  return s;
}

/** `count` packages named `<prefix>-<i>`, each with a payload so publishes take a moment. */
async function batch(prefix: string, count: number, payload = 0): Promise<DebFile[]> {
  const out: DebFile[] = [];
  for (let i = 0; i < count; i++) {
    out.push(await buildDeb({ name: `${prefix}-${i}`, version: '1.0', arch: 'amd64', compression: 'gzip', files: payload ? { [`usr/share/${prefix}/${i}`]: new Uint8Array(payload).map((_, j) => (j * 7919 + i) & 255) } : undefined }, join(work, prefix)));
  }
  return out;
}

async function packageNames(s: RunningServer, repo: string): Promise<Set<string>> {
  const res = await api(s.url, s.token).fetch(`/api/v1/repos/${repo}/packages`);
  const body = (await res.json()) as { packages: { package: string }[] };
  return new Set(body.packages.map((p) => p.package));
}

describe('atomic publishing', () => {
  it('lands all of ten concurrent batches', async () => {
    const s = await server();
    const client = api(s.url, s.token);
    await client.createRepo('acme');
    const batches = await Promise.all(Array.from({ length: 10 }, (_, i) => batch(`c${i}`, 3)));
    await Promise.all(batches.map((files) => client.upload('acme', 'stable', 'main', files.map((f) => f.path))));
    const names = await packageNames(s, 'acme');
    for (const files of batches) for (const f of files) expect(names.has(f.name), f.name).toBe(true);
    const packages = await (await fetch(`${s.url}/acme/dists/stable/main/binary-amd64/Packages`)).text();
    expect(packages.match(/^Package: /gm)).toHaveLength(30);
  });

  it('publishes nothing of a batch with one bad file', async () => {
    const s = await server();
    const client = api(s.url, s.token);
    await client.createRepo('acme');
    const good = await batch('good', 2);
    const bad = join(work, 'bad.deb');
    await writeFile(bad, '!<arch>\ndebian-binary   0           0     0     100644  4         `\n2.0\n');
    const before = await (await fetch(`${s.url}/api/v1/repos/acme`)).json();
    const err = (await client.upload('acme', 'stable', 'main', [...good.map((f) => f.path), bad]).catch((e) => e)) as ApiError;
    expect(err.status).toBe(422);
    expect(err.body).toMatch(/bad\.deb/);
    expect(await (await fetch(`${s.url}/api/v1/repos/acme`)).json()).toEqual(before);
    expect((await packageNames(s, 'acme')).size).toBe(0);
  });

  it('never shows apt a hash mismatch while batches publish', async () => {
    const s = await server();
    const client = api(s.url, s.token);
    await client.createRepo('acme');
    const batches = await Promise.all(Array.from({ length: 8 }, (_, i) => batch(`u${i}`, 4)));
    await client.upload('acme', 'stable', 'main', batches[0]!.map((f) => f.path));
    const apt: AptRoot = await aptRoot();
    try {
      await apt.configure({ sourcesLine: aptLine(s.url, 'acme', 'stable', 'main'), keyringBytes: await client.publicKey('acme') });
      let publishing = true;
      const publisher = (async () => {
        for (const files of batches.slice(1)) await client.upload('acme', 'stable', 'main', files.map((f) => f.path));
        publishing = false;
      })();
      let updates = 0;
      const failures: string[] = [];
      while (publishing || updates < 3) {
        const r = await apt.update();
        updates++;
        if (r.code !== 0 || /mismatch|Hash Sum/i.test(r.stdout + r.stderr)) failures.push(r.stdout + r.stderr);
      }
      await publisher;
      const final = await apt.update();
      expect(final.code, final.stdout + final.stderr).toBe(0);
      expect(failures).toEqual([]);
      expect(updates).toBeGreaterThanOrEqual(3);
      const policy = await apt.aptCache(['policy', 'u7-3']);
      expect(policy.stdout).toMatch(/Candidate: 1\.0/);
    } finally {
      await apt.dispose();
    }
  });

  it('restarts consistent after SIGKILL in the middle of publishing: each batch whole or absent', async () => {
    const first = await server();
    const dataDir = first.dataDir;
    await api(first.url, first.token).createRepo('acme');
    let current = first;
    const batches: DebFile[][] = [];
    for (let round = 0; round < 5; round++) {
      const files = await batch(`k${round}`, 6, 256 * 1024);
      batches.push(files);
      const upload = api(current.url, current.token).upload('acme', 'stable', 'main', files.map((f) => f.path)).catch(() => 'interrupted');
      // Kill at a different point of the publish each round.
      await new Promise((r) => setTimeout(r, 20 + round * 45));
      await current.kill('SIGKILL');
      await upload;
      current = await server({ dataDir, token: current.token });
      const names = await packageNames(current, 'acme');
      for (const [i, b] of batches.entries()) {
        const present = b.filter((f) => names.has(f.name)).length;
        expect([0, b.length], `round ${round}, batch ${i}: ${present} of ${b.length} present`).toContain(present);
      }
      const fsck = await run('node', [join(repoRoot, 'bin/packyard.mjs'), 'fsck', '--data', dataDir, '--json']);
      expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
      expect(JSON.parse(fsck.stdout)[0].problems).toEqual([]);
    }
    // The repository still takes publishes afterwards.
    const last = await batch('after', 1);
    await api(current.url, current.token).upload('acme', 'stable', 'main', [last[0]!.path]);
    expect((await packageNames(current, 'acme')).has('after-0')).toBe(true);
  });
});
