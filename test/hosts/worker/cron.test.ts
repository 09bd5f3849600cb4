// The Worker's sync cron under `wrangler dev` (`/__scheduled?cron=…` fires a trigger): every
// repository that has a source syncs from the GitHub stand-in through its Durable Object, a
// failure is logged and the others still sync; the daily cron runs gc and syncs nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDeb } from '../../helpers/debs.js';
import { startWorker, type RunningWorker } from '../../helpers/worker.js';
import { startGitHubStandin, type GitHubStandin } from '../../helpers/github/standin.js';

let worker: RunningWorker;
let gh: GitHubStandin;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'packyard-worker-sync-'));
  [worker, gh] = await Promise.all([startWorker(), startGitHubStandin()]);
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await gh?.close();
});

const deb = async (name: string, version: string) => new Uint8Array(await readFile((await buildDeb({ name, version, arch: 'amd64', compression: 'none' }, join(work, `${name}_${version}`))).path));

describe('the Worker cron', () => {
  const api = (path: string, init: RequestInit = {}) => fetch(`${worker.url}${path}`, { ...init, headers: { authorization: `Bearer ${worker.token}`, 'content-type': 'application/json', ...init.headers } });
  const create = async (name: string, body: Record<string, unknown>) => {
    const res = await api('/api/v1/repos', { method: 'POST', body: JSON.stringify({ name, type: 'deb', ...body }) });
    expect(res.status, await res.clone().text()).toBe(201);
  };
  const packages = async (repo: string) => (await api(`/${repo}/dists/stable/main/binary-amd64/Packages`)).text();
  const logLines = async () =>
    (await worker.logTail(1_000_000))
      .split('\n')
      .map((l) => /\{"level".*\}/.exec(l)?.[0])
      .filter((l): l is string => !!l)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const waitForLog = async (found: (lines: Record<string, unknown>[]) => boolean) => {
    for (let i = 0; i < 150; i++) {
      if (found(await logLines())) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`not logged:\n${await worker.logTail()}`);
  };
  const fire = async (cron: string) => expect((await fetch(`${worker.url}/__scheduled?cron=${encodeURIComponent(cron)}`)).status).toBe(200);

  it('syncs every repository with a source on its sync cron, and only on it', async () => {
    gh.addRepo('acme/edge');
    gh.addRepo('acme/hidden', { private: true });
    gh.addToken('ghp_worker', ['acme/hidden']);
    gh.addRepo('acme/vanished');
    gh.addRelease('acme/edge', { tag: 'v1', assets: [{ name: 'edge_1.0_amd64.deb', bytes: await deb('edge', '1.0') }] });
    gh.addRelease('acme/hidden', { tag: 'v1', assets: [{ name: 'hidden_1.0_amd64.deb', bytes: await deb('hidden', '1.0') }] });
    await create('edge', { public: true, source: { github: { repository: 'acme/edge', apiUrl: gh.apiUrl } } });
    // Private, with a token: the cron sees it as the admin.
    await create('hidden', { source: { github: { repository: 'acme/hidden', apiUrl: gh.apiUrl, token: 'ghp_worker', delivery: 'proxy' } } });
    await create('broken', { source: { github: { repository: 'acme/vanished', apiUrl: gh.apiUrl } } });
    await create('uploaded', { distributions: { stable: { components: ['main'] } } });
    gh.repo('acme/vanished').private = true;

    // The daily cron runs gc and syncs nothing.
    await fire('17 4 * * *');
    await waitForLog((lines) => lines.filter((l) => l.msg === 'gc').length >= 4);
    expect((await logLines()).filter((l) => String(l.msg).startsWith('sync'))).toEqual([]);
    expect(await packages('edge')).not.toContain('Package: edge');

    await fire('*/10 * * * *');
    await waitForLog((lines) => lines.filter((l) => String(l.msg).startsWith('sync')).length >= 3);
    const logged = (await logLines()).filter((l) => String(l.msg).startsWith('sync'));
    expect(logged.map((l) => l.repo).sort()).toEqual(['broken', 'edge', 'hidden']);
    expect(logged.find((l) => l.repo === 'edge')).toMatchObject({ level: 'info', msg: 'sync', status: 200, repository: 'acme/edge', added: 1, snapshot: expect.any(String) });
    expect(logged.find((l) => l.repo === 'hidden')).toMatchObject({ level: 'info', msg: 'sync', added: 1 });
    expect(logged.find((l) => l.repo === 'broken')).toMatchObject({ level: 'error', msg: 'sync failed', status: 502, code: 'github-error' });
    expect(await packages('edge')).toContain('Package: edge');
    expect(await packages('hidden')).toContain('Package: hidden');

    // The next round picks up a new release.
    gh.addRelease('acme/edge', { tag: 'v2', assets: [{ name: 'edge_2.0_amd64.deb', bytes: await deb('edge', '2.0') }] });
    await fire('*/10 * * * *');
    await waitForLog((lines) => lines.filter((l) => l.msg === 'sync' && l.repo === 'edge').length >= 2);
    expect(await packages('edge')).toContain('Version: 2.0');
  }, 120_000);
});
