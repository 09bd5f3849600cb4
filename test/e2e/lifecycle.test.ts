// Releasing in stages, end to end with real clients on both hosts (`packyard serve` and the
// Worker under wrangler dev): retention keeps the newest two of five versions for apt and dnf (and
// on the Node host gc then takes the pruned files while fsck stays clean); a copy from testing to
// stable is what apt and dnf install from stable; a rollback of stable to before the copy is
// followed by apt's next update without a warning and by dnf; the history shows the copy and the
// rollback, a diff lists the copied package, and an upload to a misspelled distribution is refused
// and creates nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { aptInstall, aptUpdate, chrootRun, configureApt, freshChroot, type Chroot } from '../helpers/chroot.js';
import { buildDeb, type DebFile } from '../helpers/debs.js';
import { buildRpm, type BuiltRpm } from '../helpers/rpms.js';
import { run } from '../helpers/exec.js';
import { aptLine, startServer, type RunningServer } from '../helpers/server.js';
import { startWorker, type RunningWorker } from '../helpers/worker.js';
import { openDataDir } from '../../src/hosts/node/runtime.js';
import { gc } from '../../src/core/gc.js';
import { fsck } from '../../src/core/fsck.js';
import { createNodeHasher } from '../../src/hosts/node/hasher.js';

const VERSIONS = ['1.0', '1.1', '1.2', '1.3', '1.4'];

let work: string;
let chroot: Chroot;
const debs: DebFile[] = [];
const rpms: BuiltRpm[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'packyard-lifecycle-e2e-'));
  chroot = await freshChroot();
  for (const version of VERSIONS) {
    debs.push(await buildDeb({ name: 'stager', version, arch: 'amd64', files: { 'usr/share/stager/version': version } }, join(work, 'debs', version)));
    rpms.push(await buildRpm({ name: 'stager', version, release: '1', arch: 'x86_64', files: { '/usr/share/stager/version': version } }, join(work, 'rpms', version)));
  }
}, 300_000);

afterAll(async () => {
  await chroot?.dispose();
  await run('pkill', ['-f', `gpg-agent --homedir ${work}/`]);
});

type Host = (RunningServer | RunningWorker) & { dataDir?: string };

describe.each([
  ['Node host (packyard serve)', (): Promise<Host> => startServer()],
  ['Worker host (wrangler dev)', (): Promise<Host> => startWorker()],
])('releasing in stages on the %s', (name, start) => {
  let host: Host;
  const call = async (path: string, init: { method?: string; body?: unknown; form?: FormData } = {}) => {
    const res = await fetch(`${host.url}${path}`, {
      method: init.method ?? (init.body || init.form ? 'POST' : 'GET'),
      headers: { authorization: `Bearer ${host.token}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
      body: init.form ?? (init.body ? JSON.stringify(init.body) : undefined),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as Record<string, any> };
  };
  const upload = async (repo: string, query: string, file: string) => {
    const form = new FormData();
    form.append('file', new Blob([await readFile(file)]), basename(file));
    return call(`/api/v1/repos/${repo}/packages?${query}`, { form });
  };
  const head = async (repo: string) => (await call(`/api/v1/repos/${repo}/snapshots?limit=1`)).body.snapshots[0] as { id: string; seq: number };

  beforeAll(async () => {
    host = await start();
  }, 120_000);
  afterAll(async () => {
    await host?.stop();
  });

  it('apt: keeps the newest two, installs what was copied to stable, follows a rollback, refuses a typo', async () => {
    const repo = 'stages';
    expect((await call('/api/v1/repos', { body: { name: repo, type: 'deb', public: true, architectures: ['amd64'], retention: { keepVersions: 2 }, distributions: { testing: { components: ['main'] }, stable: { components: ['main'] } } } })).status).toBe(201);
    for (const deb of debs) expect((await upload(repo, 'distribution=testing&component=main', deb.path)).status).toBe(201);

    const keyringBytes = new Uint8Array(await (await fetch(`${host.url}/${repo}/public.gpg`)).arrayBuffer());
    const useDist = async (dist: string) => {
      await configureApt(chroot.root, { sourcesLine: aptLine(host.url, repo, dist, 'main'), keyringBytes });
      const update = await aptUpdate(chroot.root);
      expect(update.code, update.stdout + update.stderr).toBe(0);
      // No warning at all (a Release older than the one apt has, a hash mismatch, a missing key).
      expect(update.stderr, update.stderr).not.toMatch(/^W:|^E:/m);
      return update;
    };
    const madison = async () => (await chrootRun(chroot.root, ['apt-cache', 'madison', 'stager'])).stdout.split('\n').filter(Boolean).map((l) => l.split('|')[1]!.trim());

    // Retention: apt sees the newest two of the five.
    await useDist('testing');
    expect(await madison()).toEqual(['1.4', '1.3']);

    // An upload to a misspelled distribution is refused, names the right one, and creates nothing.
    const before = await head(repo);
    const typo = await upload(repo, 'distribution=stabel&component=main', debs[0]!.path);
    expect(typo.status).toBe(404);
    expect(typo.body.error.message).toMatch(/did you mean stable\?/);
    expect((await head(repo)).id).toBe(before.id);
    expect(Object.keys((await call(`/api/v1/repos/${repo}`)).body.repo.distributions).sort()).toEqual(['stable', 'testing']);

    // A copy of a missing version changes nothing; a copy of 1.4 is what stable installs.
    const missing = await call(`/api/v1/repos/${repo}/copy`, { body: { from: 'testing', to: 'stable', packages: [{ name: 'stager', version: '1.0' }] } });
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toMatch(/stager 1\.0/);
    expect((await head(repo)).id).toBe(before.id);
    const copied = await call(`/api/v1/repos/${repo}/copy`, { body: { from: 'testing', to: 'stable', packages: [{ name: 'stager', version: '1.4' }] } });
    expect(copied.status, JSON.stringify(copied.body)).toBe(201);
    const afterCopy = await head(repo);
    await useDist('stable');
    expect(await madison()).toEqual(['1.4']);
    const install = await aptInstall(chroot.root, ['stager']);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    expect(await readFile(join(chroot.root, 'usr/share/stager/version'), 'utf8')).toBe('1.4');
    expect((await chrootRun(chroot.root, ['dpkg', '--purge', 'stager'])).code).toBe(0);

    // The diff between before and after the copy lists it, in stable.
    const diff = await call(`/api/v1/repos/${repo}/diff?from=${before.id}&to=${afterCopy.id}`);
    expect(diff.status).toBe(200);
    expect(JSON.stringify(diff.body)).toMatch(/"stable"/);
    const places = diff.body.places as { distribution: string; added: { package: string; version: string }[] }[];
    expect(places.flatMap((p) => p.added.map((a) => `${p.distribution} ${a.package} ${a.version}`))).toEqual(['stable stager 1.4']);

    // Rollback of stable to before the copy: apt's next update takes it without a warning.
    const rolled = await call(`/api/v1/repos/${repo}/rollback`, { body: { snapshot: before.id, distribution: 'stable' } });
    expect(rolled.status, JSON.stringify(rolled.body)).toBe(201);
    const update = await aptUpdate(chroot.root);
    expect(update.code, update.stdout + update.stderr).toBe(0);
    expect(update.stderr, update.stderr).not.toMatch(/^W:|^E:/m);
    expect(await madison()).toEqual([]);
    // testing is untouched by a rollback of stable.
    await useDist('testing');
    expect(await madison()).toEqual(['1.4', '1.3']);

    // History keeps everything: the copy and the rollback, by whom.
    const history = (await call(`/api/v1/repos/${repo}/snapshots?limit=3`)).body.snapshots as { actor: string; changes: { action: string; from?: unknown; snapshot?: string }[] }[];
    expect(history[0]!.changes).toContainEqual(expect.objectContaining({ action: 'rollback', snapshot: before.id }));
    expect(history[1]!.changes).toContainEqual(expect.objectContaining({ action: 'add', package: 'stager', version: '1.4', from: expect.objectContaining({ distribution: 'testing' }) }));
    expect(history[0]!.actor).toBe(history[1]!.actor);

    // Pruned versions stay downloadable until gc collects them: a client that read the index
    // before the prune still gets the file it names.
    const pool = (version: string) => `${host.url}/${repo}/pool/main/s/stager/stager_${version}_amd64.deb`;
    for (const version of VERSIONS) expect((await fetch(pool(version), { method: 'HEAD' })).status, version).toBe(200);

    if (!host.dataDir) return;
    // Node host: gc past the grace period takes the pruned versions' files; fsck stays clean and
    // the kept ones are served.
    const runtime = await openDataDir(host.dataDir);
    const report = await gc(runtime.service.store, repo, { retention: { graceMs: 10 * 60_000, generations: 0 }, now: Date.now() + 3600_000 });
    expect(report.deleted.objects).toBeGreaterThan(0);
    // fsck of what gc kept: the head (superseded snapshots are retained no longer than gc kept them).
    expect((await fsck(runtime.service.store, createNodeHasher, repo, { retention: { graceMs: 0, generations: 0 } })).problems).toEqual([]);
    for (const version of VERSIONS) {
      const res = await fetch(pool(version), { method: 'HEAD' });
      expect(res.status, version).toBe(['1.3', '1.4'].includes(version) ? 200 : 404);
    }
  });

  it('dnf: keeps the newest two, installs what was copied to stable, follows a rollback', async () => {
    const repo = 'stages-rpm';
    expect((await call('/api/v1/repos', { body: { name: repo, type: 'rpm', public: true, architectures: ['x86_64'], retention: { keepVersions: 2 }, distributions: { testing: {}, stable: {} } } })).status).toBe(201);
    for (const rpm of rpms) expect((await upload(repo, 'distribution=testing', rpm.path)).status).toBe(201);
    expect((await upload(repo, 'distribution=stabel', rpms[0]!.path)).status).toBe(404);

    const dir = join(work, `dnf-${name.split(' ')[0]}`);
    const repos = join(dir, 'repos.d');
    await mkdir(repos, { recursive: true });
    const useDist = async (dist: string) => {
      const repoFile = await (await fetch(`${host.url}/${repo}/${dist}.repo`)).text();
      expect(repoFile).toMatch(/^repo_gpgcheck=1$/m);
      await run('rm', ['-rf', repos]);
      await mkdir(repos, { recursive: true });
      await writeFile(join(repos, `${repo}-${dist}.repo`), repoFile);
    };
    const root = join(dir, 'root');
    const dnf = (args: string[]) => run('dnf', ['-y', '-q', `--installroot=${root}`, '--releasever=12', `--setopt=reposdir=${repos}`, `--setopt=cachedir=${join(root, 'cache')}`, '--setopt=skip_if_unavailable=0', '--setopt=metadata_expire=0', ...args], { timeoutMs: 300_000 });
    const versions = async () => {
      const listed = await dnf(['--refresh', 'repoquery', '--qf', '%{version}', 'stager']);
      expect(listed.code, listed.stdout + listed.stderr).toBe(0);
      return listed.stdout.split('\n').filter(Boolean).sort();
    };

    await useDist('testing');
    expect(await versions()).toEqual(['1.3', '1.4']);

    const before = await head(repo);
    expect((await call(`/api/v1/repos/${repo}/copy`, { body: { from: 'testing', to: 'stable', packages: [{ name: 'stager', version: '1.4-1' }] } })).status).toBe(201);
    await useDist('stable');
    expect(await versions()).toEqual(['1.4']);
    const install = await dnf(['install', 'stager']);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    expect(await readFile(join(root, 'usr/share/stager/version'), 'utf8')).toBe('1.4');

    expect((await call(`/api/v1/repos/${repo}/rollback`, { body: { snapshot: before.id, distribution: 'stable' } })).status).toBe(201);
    expect(await versions()).toEqual([]);
  });
});
