// `packyard check` as users run it, on a data directory: exit 0 on a good repository, 1 naming
// each broken file on a bad one.
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDeb, type DebFile } from '../helpers/debs.js';
import { repoRoot, run } from '../helpers/exec.js';
import { api, startServer } from '../helpers/server.js';

const cli = (args: string[]) => run('node', [join(repoRoot, 'bin/packyard.mjs'), ...args], { timeoutMs: 120_000 });

let work: string;
let debs: DebFile[];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'packyard-cli-check-'));
  debs = [await buildDeb({ name: 'alpha', version: '1.0', arch: 'amd64' }, join(work, 'debs')), await buildDeb({ name: 'beta', version: '2.0', arch: 'all' }, join(work, 'debs'))];
});

/** The stored file holding these bytes, wherever the data directory keeps it. */
async function storedFile(dir: string, sha256: string): Promise<string> {
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    if (createHash('sha256').update(await readFile(path)).digest('hex') === sha256) return path;
  }
  throw new Error(`no stored file with SHA-256 ${sha256}`);
}

describe('packyard check', () => {
  it('exits 0 on a good repository and 1 naming the broken file on a bad one', async () => {
    const data = join(work, 'data');
    for (const repo of ['acme', 'other']) {
      const added = await cli(['add', '--create', '--data', data, '--repo', repo, '--distribution', 'stable', ...debs.map((d) => d.path)]);
      expect(added.code, added.stderr).toBe(0);
    }

    const good = await cli(['check', '--data', data]);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toMatch(/^acme: ok \(\d+ files\)$/m);
    expect(good.stdout).toMatch(/^other: ok \(\d+ files\)$/m);

    // Both repositories hold the same bytes once each: the first stored copy found is one of them.
    const gone = await storedFile(join(data), debs[0]!.sha256);
    await rm(gone);
    const bad = await cli(['check', '--data', data]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^ {2}BROKEN pool\/main\/a\/alpha\/alpha_1\.0_amd64\.deb: status \(HTTP 404\)$/m);

    const json = await cli(['check', '--data', data, '--json']);
    expect(json.code).toBe(1);
    const results = JSON.parse(json.stdout) as { repo: string; ok: boolean; full: boolean; broken: { path: string; problem: string }[] }[];
    expect(results.map((r) => r.repo).sort()).toEqual(['acme', 'other']);
    const broken = results.filter((r) => !r.ok);
    expect(broken).toHaveLength(1);
    expect(broken[0]!.broken).toEqual([{ path: 'pool/main/a/alpha/alpha_1.0_amd64.deb', problem: 'status', detail: 'HTTP 404' }]);

    // Only the other repository: it passes, hashing every package too.
    const healthy = results.find((r) => r.ok)!.repo;
    const one = await cli(['check', '--data', data, '--repo', healthy, '--full', '--json']);
    expect(one.code, one.stderr).toBe(0);
    expect(JSON.parse(one.stdout)).toEqual([expect.objectContaining({ repo: healthy, ok: true, full: true })]);

    const unknown = await cli(['check', '--data', data, '--repo', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/404/);
  });

  it('checks a running server over --url, with a read token', async () => {
    const server = await startServer();
    try {
      const client = api(server.url, server.token);
      await client.createRepo('served', { public: false });
      await client.upload('served', 'stable', 'main', debs.map((d) => d.path));
      const created = await client.fetch('/api/v1/tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'watch', repos: { served: ['read'] } }) });
      const { token } = (await created.json()) as { token: string };
      const checked = await cli(['check', '--url', server.url, '--token', token]);
      expect(checked.code, checked.stderr).toBe(0);
      // The token may read one repository: the other (the default one) is not listed, so not checked.
      expect(checked.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^served: ok \(\d+ files\)$/)]);
    } finally {
      await server.stop();
    }
  });
});
