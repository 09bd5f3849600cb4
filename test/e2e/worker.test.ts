// The Worker host in real workerd, under `wrangler dev` (local R2 and Durable Objects) and on-prem
// under workerd alone (a disk service): the APT path end to end, a 300 MB package through
// resumable uploads, and concurrent publishes while apt reads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aptInstall, aptRoot, aptUpdate, configureApt, freshChroot, isInstalled, type Chroot } from '../helpers/chroot.js';
import { buildDeb, fetchRealDebs, type DebFile } from '../helpers/debs.js';
import { api, aptLine } from '../helpers/server.js';
import { startWorker, startWorkerd, type RunningWorker } from '../helpers/worker.js';
import { repoRoot, run } from '../helpers/exec.js';

const cli = (args: string[]) => run('node', [join(repoRoot, 'bin/packyard.mjs'), ...args], { timeoutMs: 600_000 });

describe.each([
  ['wrangler dev over R2', startWorker, true],
  ['workerd on-prem over a directory', startWorkerd, false],
])('the Worker host in workerd: %s', (_, start: () => Promise<RunningWorker>, hasCron) => {
  let worker: RunningWorker;
  let chroot: Chroot;
  let work: string;
  let real: Awaited<ReturnType<typeof fetchRealDebs>>;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'packyard-worker-e2e-'));
    [real, chroot, worker] = await Promise.all([fetchRealDebs(), freshChroot(), start()]);
  }, 600_000);

  afterAll(async () => {
    await worker?.stop();
    await chroot?.dispose();
  });

  it('serves apt: upload through the API, apt-get install in a chroot with signature checking on', async () => {
    const client = api(worker.url, worker.token);
    await client.createRepo('acme');
    const gen = join(work, 'gen');
    const generated = [
      await buildDeb({ name: 'edge-lib', version: '1.0-1', arch: 'all', compression: 'zstd', files: { 'usr/share/edge/lib.txt': 'lib' } }, gen),
      await buildDeb({ name: 'edge-app', version: '2.0~rc1-1', arch: 'amd64', compression: 'xz', depends: 'edge-lib (>= 1.0)', files: { 'usr/share/edge/app.txt': 'app' } }, gen),
    ];
    await client.upload('acme', 'stable', 'main', [real['vim-common'].path, real['vim-tiny'].path, ...generated.map((g) => g.path)]);
    await configureApt(chroot.root, { sourcesLine: aptLine(worker.url, 'acme', 'stable', 'main'), keyringBytes: await client.publicKey('acme') });
    const update = await aptUpdate(chroot.root);
    expect(update.code, update.stdout + update.stderr).toBe(0);
    expect(update.stdout + update.stderr).not.toMatch(/NO_PUBKEY|not signed|Hash Sum mismatch/);
    const install = await aptInstall(chroot.root, ['vim-tiny', 'edge-app']);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    for (const pkg of ['vim-tiny', 'vim-common', 'edge-app', 'edge-lib']) expect(await isInstalled(chroot.root, pkg), pkg).toBe(true);
  });

  it('takes a 300 MB package in parts through `packyard upload` and serves it back whole and in ranges', async () => {
    await api(worker.url, worker.token).createRepo('big');
    const payload = new Uint8Array(300 * 1000 * 1000);
    for (let i = 0; i < payload.length; i += 4) payload[i] = (i * 2654435761) >>> 24;
    const deb: DebFile = await buildDeb({ name: 'huge', version: '1.0', arch: 'amd64', compression: 'none', files: { 'usr/share/huge/blob': payload } }, join(work, 'huge'));
    const up = await cli(['upload', '--url', worker.url, '--token', worker.token, '--repo', 'big', '--distribution', 'stable', '--json', deb.path]);
    expect(up.code, up.stderr + (await worker.logTail())).toBe(0);
    expect((JSON.parse(up.stdout) as { packages: { sha256: string }[] }).packages[0]!.sha256).toBe(deb.sha256);

    const url = `${worker.url}/big/pool/main/h/huge/huge_1.0_amd64.deb`;
    const whole = await fetch(url);
    expect(whole.status).toBe(200);
    const hash = createHash('sha256');
    const reader = whole.body!.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) hash.update(r.value);
    expect(hash.digest('hex')).toBe(deb.sha256);
    const part = await fetch(url, { headers: { range: 'bytes=100000000-100000999' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100000000-100000999/${deb.size}`);
    expect((await part.arrayBuffer()).byteLength).toBe(1000);
  }, 600_000);

  it('lands concurrent batches while apt updates, never showing a hash mismatch', async () => {
    const client = api(worker.url, worker.token);
    await client.createRepo('busy');
    const batches: DebFile[][] = [];
    for (let b = 0; b < 8; b++) {
      const files: DebFile[] = [];
      for (let i = 0; i < 3; i++) files.push(await buildDeb({ name: `w${b}-${i}`, version: '1.0', arch: 'amd64', compression: 'gzip' }, join(work, `batch${b}`)));
      batches.push(files);
    }
    await client.upload('busy', 'stable', 'main', batches[0]!.map((f) => f.path));
    const apt = await aptRoot();
    try {
      await apt.configure({ sourcesLine: aptLine(worker.url, 'busy', 'stable', 'main'), keyringBytes: await client.publicKey('busy') });
      let publishing = true;
      const publisher = Promise.all(batches.slice(1).map((files) => client.upload('busy', 'stable', 'main', files.map((f) => f.path)))).finally(() => {
        publishing = false;
      });
      const failures: string[] = [];
      let updates = 0;
      while (publishing || updates < 3) {
        const r = await apt.update();
        updates++;
        if (r.code !== 0 || /mismatch|Hash Sum/i.test(r.stdout + r.stderr)) failures.push(r.stdout + r.stderr);
      }
      await publisher;
      expect(failures).toEqual([]);
      const packages = await (await fetch(`${worker.url}/busy/dists/stable/main/binary-amd64/Packages`)).text();
      expect(packages.match(/^Package: /gm)).toHaveLength(24);
    } finally {
      await apt.dispose();
    }
  });

  it(`collects garbage ${hasCron ? 'on its cron trigger' : 'through the API'} without touching what apt reads`, async () => {
    // A private repository too: the cron job must see it.
    await api(worker.url, worker.token).createRepo('hidden', { public: false });
    const repos = ['acme', 'big', 'busy', 'hidden'];
    if (hasCron) {
      expect((await fetch(`${worker.url}/__scheduled?cron=17+4+*+*+*`)).status).toBe(200);
      let log = '';
      for (let i = 0; i < 100 && (log.match(/"msg":"gc"/g) ?? []).length < repos.length; i++) {
        await new Promise((r) => setTimeout(r, 200));
        log = await worker.logTail(100_000);
      }
      for (const repo of repos) expect(log).toMatch(new RegExp(`"level":"info","msg":"gc","repo":"${repo}","status":200`));
      // After gc, the heartbeat of every repository, its result kept.
      for (let i = 0; i < 300 && (log.match(/"msg":"check"/g) ?? []).length < repos.length; i++) {
        await new Promise((r) => setTimeout(r, 200));
        log = await worker.logTail(100_000);
      }
      for (const repo of repos) {
        expect(log).toMatch(new RegExp(`"level":"info","msg":"check","repo":"${repo}","status":200,"ok":true`));
        const last = await fetch(`${worker.url}/api/v1/repos/${repo}/check/last`, { headers: { authorization: `Bearer ${worker.token}` } });
        expect(last.status).toBe(200);
        expect(((await last.json()) as { check: { repo: string; ok: boolean } }).check).toMatchObject({ repo, ok: true });
      }
    } else {
      for (const repo of repos) {
        const res = await fetch(`${worker.url}/api/v1/repos/${repo}/gc`, { method: 'POST', headers: { authorization: `Bearer ${worker.token}` } });
        expect(res.status).toBe(200);
        expect(((await res.json()) as { report: { repo: string } }).report.repo).toBe(repo);
      }
    }
    const update = await aptUpdate(chroot.root);
    expect(update.code, update.stdout + update.stderr).toBe(0);
  });
});
