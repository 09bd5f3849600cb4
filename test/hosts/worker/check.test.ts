// The heartbeat on the Worker under `wrangler dev`: the route walks the repository through the
// Worker's own app, and the daily cron checks every repository after gc and keeps the result.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDeb } from '../../helpers/debs.js';
import { api } from '../../helpers/server.js';
import { startWorker, type RunningWorker } from '../../helpers/worker.js';

interface Check {
  repo: string;
  ok: boolean;
  checked: number;
  startedAt: string;
  broken: unknown[];
}

describe('the heartbeat on the Worker', () => {
  let worker: RunningWorker;

  beforeAll(async () => {
    worker = await startWorker();
  }, 120_000);

  afterAll(async () => {
    await worker?.stop();
  });

  it('checks a repository on request, and every repository on its cron trigger, keeping the result', async () => {
    const client = api(worker.url, worker.token);
    const work = await mkdtemp(join(tmpdir(), 'packyard-worker-check-'));
    const deb = await buildDeb({ name: 'edge-tool', version: '1.0', arch: 'amd64' }, work);
    for (const [repo, visible] of [['open', true], ['hidden', false]] as const) {
      await client.createRepo(repo, { public: visible });
      await client.upload(repo, 'stable', 'main', [deb.path]);
    }

    const res = await client.fetch('/api/v1/repos/hidden/check');
    expect(res.status, await worker.logTail()).toBe(200);
    const { check } = (await res.json()) as { check: Check };
    expect(check).toMatchObject({ repo: 'hidden', ok: true, broken: [] });
    expect(check.checked).toBeGreaterThan(5);

    const fired = new Date().toISOString();
    expect((await fetch(`${worker.url}/__scheduled?cron=17+4+*+*+*`)).status).toBe(200);
    let log = '';
    for (let i = 0; i < 100 && (log.match(/"msg":"check"/g) ?? []).length < 2; i++) {
      await new Promise((r) => setTimeout(r, 200));
      log = await worker.logTail(100_000);
    }
    for (const repo of ['open', 'hidden']) {
      expect(log).toMatch(new RegExp(`"level":"info","msg":"gc","repo":"${repo}","status":200`));
      expect(log).toMatch(new RegExp(`"level":"info","msg":"check","repo":"${repo}","status":200,"ok":true`));
      const last = await client.fetch(`/api/v1/repos/${repo}/check/last`);
      expect(last.status).toBe(200);
      const kept = ((await last.json()) as { check: Check }).check;
      expect(kept).toMatchObject({ repo, ok: true });
      expect(kept.startedAt >= fired).toBe(true);
    }
    // The private repository's last result is read with a credential only.
    expect((await fetch(`${worker.url}/api/v1/repos/hidden/check/last`)).status).toBe(401);
  }, 120_000);
});
