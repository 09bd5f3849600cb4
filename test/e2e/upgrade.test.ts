// Stored data survives upgrades: a data directory written by an older build (the v1 fixture,
// test/fixtures/upgrade/, made at commit f02de7e) is served and extended by this one, on the Node
// host (`packyard serve`) and on the Worker host (workerd over the same directory, on-prem). apt
// trusts the fixture's committed public key and reads the private repository with the fixture's
// read token; the fixture's write token publishes on top of the stored history; dnf installs from
// the rpm repository; fsck and gc agree with what was stored. Each host works on its own copy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { aptInstall, aptUpdate, chrootRun, configureApt, freshChroot, isInstalled, type Chroot } from '../helpers/chroot.js';
import { buildDeb } from '../helpers/debs.js';
import { buildRpm } from '../helpers/rpms.js';
import { repoRoot, run } from '../helpers/exec.js';
import { aptLine, startServer } from '../helpers/server.js';
import { startWorkerd } from '../helpers/worker.js';

const FIXTURE = join(repoRoot, 'test/fixtures/upgrade');
const secrets = JSON.parse(readFileSync(join(FIXTURE, 'v1-secrets.json'), 'utf8')) as { admin: string; read: string; write: string };

interface SnapshotRow {
  id: string;
  seq: number;
  createdAt: string;
  actor: string;
  changes: Record<string, unknown>[];
}
interface Expected {
  madeAt: string;
  signingKeys: string[];
  repos: Record<'acme' | 'yum', { snapshots: SnapshotRow[]; packages: { package: string; version: string; architecture: string }[] }>;
  tokens: Record<string, unknown>[];
  oidcPolicies: { acme: Record<string, unknown>[] };
}
const expected = JSON.parse(readFileSync(join(FIXTURE, 'v1-expected.json'), 'utf8')) as Expected;
/** The key the fixture was signed with, as committed: apt and dnf trust this one, never one the server hands out. */
const madeAt = expected.madeAt;
const fixtureKey = new Uint8Array(readFileSync(join(FIXTURE, 'v1-public.gpg')));

const headVersion = (repo: 'acme' | 'yum', name: string) => expected.repos[repo].packages.find((p) => p.package === name)!.version;
const cli = (args: string[]) => run(process.execPath, [join(repoRoot, 'bin/packyard.mjs'), ...args], { cwd: repoRoot, env: { PACKYARD_URL: '', PACKYARD_TOKEN: '', PACKYARD_ADMIN_TOKEN: '' }, timeoutMs: 120_000 });

interface Host {
  url: string;
  /** The admin token of the host's environment ('' for the Node host: it checks the stored one). */
  token: string;
  stop(): Promise<unknown>;
}

/**
 * A private copy of the committed data directory: the fixture itself is never served. Git keeps no
 * modification times, so every file gets the fixture's own age back: gc deletes only what is
 * older than its grace period, and stored data that old is what an upgrade meets.
 */
async function copyOfFixture(work: string): Promise<string> {
  const data = join(work, 'data');
  await cp(join(FIXTURE, 'v1-data'), data, { recursive: true });
  const age = new Date(madeAt);
  for (const entry of await readdir(data, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) await utimes(join(entry.parentPath, entry.name), age, age);
  }
  return data;
}

/** gpg-agents that dnf's key import started under `dir` (they outlive dnf), ended by pid. */
async function endAgentsUnder(dir: string): Promise<void> {
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.startsWith('gpg-agent\0') && cmdline.includes(`\0${dir}/`)) process.kill(Number(pid), 'SIGTERM');
  }
}

describe.each([
  ['Node host (packyard serve)', 'node' as const],
  ['Worker host (workerd over the directory)', 'worker' as const],
])('the v1 fixture on the %s', (_, kind) => {
  let host: Host;
  let data: string;
  let chroot: Chroot;
  let work: string;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const json = async (path: string, token: string) => {
    const res = await fetch(`${host.url}${path}`, { headers: bearer(token) });
    expect(res.status, `${path}: ${await res.clone().text()}`).toBe(200);
    return (await res.json()) as Record<string, unknown>;
  };
  const upload = async (repo: string, dist: string, file: string) => {
    const form = new FormData();
    form.append('file', new Blob([await readFile(file)]), basename(file));
    const res = await fetch(`${host.url}/api/v1/repos/${repo}/packages?distribution=${dist}`, { method: 'POST', headers: bearer(secrets.write), body: form });
    expect(res.status, await res.clone().text()).toBe(201);
    return (await res.json()) as { snapshot: SnapshotRow };
  };
  // Stored history, tokens and policies are compared with what the v1 build reported: a later build
  // may add fields to its answers, but must keep every one of these, with the same values.
  const history = async (repo: string) => ((await json(`/api/v1/repos/${repo}/snapshots?limit=1000`, secrets.read)).snapshots as SnapshotRow[]);
  const dnf = (root: string, repos: string, args: string[]) =>
    run('dnf', ['-y', '-q', `--installroot=${root}`, '--releasever=12', `--setopt=reposdir=${repos}`, `--setopt=cachedir=${join(root, 'cache')}`, '--setopt=skip_if_unavailable=0', ...args], { timeoutMs: 300_000 });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), `packyard-upgrade-${kind}-`));
    data = await copyOfFixture(work);
    const start = async (): Promise<Host> => {
      // An empty PACKYARD_ADMIN_TOKEN: the server checks the admin token whose hash the fixture stored.
      if (kind === 'node') return startServer({ dataDir: data, token: '' });
      // The Worker takes its admin token from its environment only (the helper sets a random one);
      // this test needs none there: the fixture's API tokens do everything.
      return startWorkerd({ data });
    };
    [chroot, host] = await Promise.all([freshChroot(), start()]);
  }, 600_000);

  afterAll(async () => {
    await host?.stop();
    await chroot?.dispose();
    if (work) {
      await endAgentsUnder(work);
      await rm(work, { recursive: true, force: true });
    }
  });

  it('serves the private deb repository to apt with the committed key and the stored read token', async () => {
    expect(new Uint8Array(await (await fetch(`${host.url}/acme/public.gpg`)).arrayBuffer())).toEqual(fixtureKey);
    expect((await fetch(`${host.url}/acme/dists/stable/InRelease`)).status).toBe(401);
    await configureApt(chroot.root, { sourcesLine: aptLine(host.url, 'acme', 'stable', 'main'), keyringBytes: fixtureKey, authConf: `machine ${host.url}/acme login apt password ${secrets.read}` });
    const update = await aptUpdate(chroot.root);
    expect(update.code, update.stdout + update.stderr).toBe(0);
    expect(update.stdout + update.stderr).not.toMatch(/NO_PUBKEY|not signed|Hash Sum mismatch/);
    const version = headVersion('acme', 'acme-tool');
    const install = await aptInstall(chroot.root, [`acme-tool=${version}`]);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    const installed = await chrootRun(chroot.root, ['dpkg-query', '-W', '-f', '${Package} ${Version}\n', 'acme-tool', 'acme-data']);
    expect(installed.stdout.split('\n').filter(Boolean).sort()).toEqual([`acme-data ${headVersion('acme', 'acme-data')}`, `acme-tool ${version}`]);
  }, 300_000);

  it('publishes a new .deb with the stored write token on top of the whole stored history, and apt installs it', async () => {
    const deb = await buildDeb({ name: 'acme-extra', version: '3.0-1', arch: 'all', compression: 'xz', depends: 'acme-tool (>= 1.1)', files: { 'usr/share/acme-extra/extra.txt': 'extra\n' } }, join(work, 'debs'));
    const before = expected.repos.acme.snapshots;
    const { snapshot } = await upload('acme', 'stable', deb.path);
    expect(snapshot).toMatchObject({ seq: before[0]!.seq + 1, actor: 'token:ci' });
    const snapshots = await history('acme');
    expect(snapshots.map((s) => s.id)).toEqual([snapshot.id, ...before.map((s) => s.id)]);
    expect(snapshots.slice(1)).toMatchObject(before);
    expect(snapshots[0]!.changes).toEqual([{ action: 'add', distribution: 'stable', component: 'main', package: 'acme-extra', version: '3.0-1', architecture: 'all' }]);

    const update = await aptUpdate(chroot.root);
    expect(update.code, update.stdout + update.stderr).toBe(0);
    const install = await aptInstall(chroot.root, ['acme-extra']);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    expect(await isInstalled(chroot.root, 'acme-extra')).toBe(true);
  }, 300_000);

  it('serves the rpm repository to dnf with repo_gpgcheck and the committed key, and publishes a new rpm on top of its history', async () => {
    const repos = join(work, 'repos.d');
    await mkdir(repos, { recursive: true });
    const repoFile = await (await fetch(`${host.url}/yum/el9.repo`)).text();
    expect(repoFile).toMatch(/^repo_gpgcheck=1$/m);
    const trusted = repoFile.replace(/^gpgkey=.*$/m, `gpgkey=file://${join(FIXTURE, 'v1-public.asc')}`);
    await writeFile(join(repos, 'yum-el9.repo'), trusted);

    const root = join(work, 'root');
    const install = await dnf(root, repos, ['install', 'acme-tool']);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    const [, evr] = /^(?:\d+:)?(.*)$/.exec(headVersion('yum', 'acme-tool'))!;
    const installed = await run('rpm', ['--root', root, '-q', 'acme-tool', 'acme-lib']);
    expect(installed.code, installed.stdout + installed.stderr).toBe(0);
    expect(installed.stdout).toContain(`acme-tool-${evr}.x86_64`);

    const rpm = await buildRpm({ name: 'acme-extra', version: '3.0', release: '1', requires: ['acme-tool'], files: { '/usr/share/acme-extra/extra.txt': 'extra\n' } }, join(work, 'rpms'));
    const before = expected.repos.yum.snapshots;
    const { snapshot } = await upload('yum', 'el9', rpm.path);
    expect(snapshot).toMatchObject({ seq: before[0]!.seq + 1, actor: 'token:ci' });
    const snapshots = await history('yum');
    expect(snapshots.map((s) => s.id)).toEqual([snapshot.id, ...before.map((s) => s.id)]);
    expect(snapshots.slice(1)).toMatchObject(before);

    const more = await dnf(root, repos, ['--refresh', 'install', 'acme-extra']);
    expect(more.code, more.stdout + more.stderr).toBe(0);
    expect((await run('rpm', ['--root', root, '-q', 'acme-extra'])).stdout).toContain('acme-extra-3.0-1.noarch');
  }, 300_000);

  if (kind === 'node') {
    it('keeps the stored admin token, API tokens and OIDC policy', async () => {
      const tokens = (await json('/api/v1/tokens', secrets.admin)).tokens as { id: string }[];
      for (const token of expected.tokens) expect(tokens).toContainEqual(expect.objectContaining(token));
      const policies = (await json('/api/v1/repos/acme/oidc-policies', secrets.admin)).policies;
      expect(policies).toMatchObject(expected.oidcPolicies.acme);
    });

    it('passes fsck, and gc keeps what the retained snapshots serve', async () => {
      const fsck = async (retention: string[]) => {
        const r = await cli(['fsck', '--data', data, '--json', ...retention]);
        expect(r.code, r.stdout + r.stderr).toBe(0);
        const reports = JSON.parse(r.stdout) as { repo: string; problems: unknown[] }[];
        expect(reports.map((x) => x.repo).sort()).toEqual(['acme', 'yum']);
        for (const x of reports) expect(x.problems, x.repo).toEqual([]);
      };
      const gc = async (retention: string[]) => {
        const r = await cli(['gc', '--data', data, '--json', ...retention]);
        expect(r.code, r.stdout + r.stderr).toBe(0);
        return JSON.parse(r.stdout) as { repo: string; deleted: { objects: number } }[];
      };
      // The default retention (a day, and 3 superseded snapshots), then the least gc allows: the
      // head and one superseded snapshot, files superseded 10 minutes ago. fsck checks with the same.
      await fsck([]);
      await gc([]);
      await fsck([]);
      const tight = ['--generations', '1', '--grace', '10m'];
      const reports = await gc(tight);
      await fsck(tight);
      // Once the fixture is older than the grace period, the tight gc has old indexes to delete.
      const acme = reports.find((r) => r.repo === 'acme')!;
      if (Date.now() - Date.parse(madeAt) > 11 * 60_000) expect(acme.deleted.objects).toBeGreaterThan(0);

      // The history is bookkeeping, never garbage; apt still reads everything the head names.
      expect((await history('acme')).slice(1)).toMatchObject(expected.repos.acme.snapshots);
      expect((await history('yum')).slice(1)).toMatchObject(expected.repos.yum.snapshots);
      const update = await aptUpdate(chroot.root);
      expect(update.code, update.stdout + update.stderr).toBe(0);
      const again = await aptInstall(chroot.root, ['--reinstall', 'acme-tool', 'acme-data', 'acme-extra']);
      expect(again.code, again.stdout + again.stderr).toBe(0);
    }, 300_000);
  } else {
    it('collects garbage through the API (the admin token from its environment) without touching what apt reads', async () => {
      for (const repo of ['acme', 'yum']) {
        const res = await fetch(`${host.url}/api/v1/repos/${repo}/gc`, { method: 'POST', headers: bearer(host.token) });
        expect(res.status, await res.clone().text()).toBe(200);
      }
      // What the Worker wrote is in the layout the Node host reads: fsck of the directory is clean.
      const fsck = await cli(['fsck', '--data', data, '--json']);
      expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
      for (const report of JSON.parse(fsck.stdout) as { repo: string; problems: unknown[] }[]) expect(report.problems, report.repo).toEqual([]);
      // The Worker never reads the admin token stored in system/admin-token.json.
      expect((await fetch(`${host.url}/api/v1/tokens`, { headers: bearer(secrets.admin) })).status).toBe(401);
      const update = await aptUpdate(chroot.root);
      expect(update.code, update.stdout + update.stderr).toBe(0);
      const again = await aptInstall(chroot.root, ['--reinstall', 'acme-tool', 'acme-data', 'acme-extra']);
      expect(again.code, again.stdout + again.stderr).toBe(0);
    }, 300_000);
  }
});
