// `packyard serve --sync-interval` in-process: rounds over every repository with a source, one
// sync at a time even when the interval is shorter than a round, failures logged and passed
// over, nothing after stop(). Real Sources against the GitHub stand-in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGitHubStandin, type GitHubStandin } from '../../helpers/github/standin.js';
import { buildDeb } from '../../helpers/debs.js';
import { testService } from '../../helpers/service.js';
import { MemoryStorage } from '../../../src/storage/memory.js';
import { Sources } from '../../../src/sources/index.js';
import { startPeriodicSync } from '../../../src/hosts/node/periodic-sync.js';

let gh: GitHubStandin;
let dir: string;

beforeAll(async () => {
  gh = await startGitHubStandin();
  dir = await mkdtemp(join(tmpdir(), 'packyard-periodic-'));
});
afterAll(async () => {
  await gh?.close();
});

describe('periodic syncs', () => {
  it('syncs each repository with a source in turn, never two at once, and stops', async () => {
    const service = await testService(new MemoryStorage());
    const sources = new Sources({ service });
    for (const name of ['one', 'two', 'three']) {
      gh.addRepo(`acme/${name}`);
      const bytes = new Uint8Array(await readFile((await buildDeb({ name, version: '1.0', arch: 'amd64', compression: 'none' }, join(dir, name))).path));
      gh.addRelease(`acme/${name}`, { tag: 'v1', assets: [{ name: `${name}_1.0_amd64.deb`, bytes }] });
      await sources.createRepo({ name, type: 'deb', source: { github: { repository: `acme/${name}`, apiUrl: gh.apiUrl } } }, 'test');
    }
    await sources.createRepo({ name: 'missing', type: 'deb', source: { github: { repository: 'acme/missing', apiUrl: gh.apiUrl } } }, 'test');
    await sources.createRepo({ name: 'uploaded', type: 'deb' }, 'test');

    // Watch the real syncs: how many run at once.
    let running = 0;
    let most = 0;
    const sync = sources.sync.bind(sources);
    sources.sync = async (repo) => {
      most = Math.max(most, ++running);
      try {
        return await sync(repo);
      } finally {
        running--;
      }
    };
    const logs: Record<string, unknown>[] = [];
    // An interval far shorter than a round.
    const periodic = startPeriodicSync(sources, 1, (entry) => logs.push(entry));
    for (let i = 0; i < 200 && logs.filter((l) => l.repo === 'three').length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    periodic.stop();
    await periodic.idle();
    const stoppedAt = logs.length;

    expect(most).toBe(1);
    expect(logs.filter((l) => l.repo === 'three').length).toBeGreaterThanOrEqual(3);
    expect(logs.find((l) => l.repo === 'one' && l.added === 1)).toMatchObject({ level: 'info', msg: 'sync', repository: 'acme/one', snapshot: expect.any(String) });
    expect(logs.find((l) => l.repo === 'one' && l.added === 0)).toMatchObject({ snapshot: null, unchanged: 1 });
    expect(logs.find((l) => l.repo === 'missing')).toMatchObject({ level: 'error', msg: 'sync failed', status: 502, code: 'github-error' });
    expect(logs.some((l) => l.repo === 'uploaded')).toBe(false);
    // Round after round, each repository once (in the order they are listed).
    const round = ['missing', 'one', 'three', 'two'];
    expect(logs.map((l) => l.repo).slice(0, 8)).toEqual([...round, ...round]);
    expect((await service.getRepo('two')).files['dists/stable/main/binary-amd64/Packages']).toBeDefined();

    await new Promise((r) => setTimeout(r, 100));
    expect(logs.length).toBe(stoppedAt);
  });
});
