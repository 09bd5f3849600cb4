// Stored data survives upgrades: data directories written by older builds (the fixtures of
// test/fixtures/upgrade/: v1, made at commit f02de7e, snapshot schema 1; v2, made at 61a7802, the
// last build writing schema 2) are served and extended by this one, on the Node host (`packyard
// serve`) and on the Worker host (workerd over the same directory, on-prem). apt trusts the
// fixture's committed public key and reads the private repository with the fixture's read token;
// the fixture's write token publishes on top of the stored history; dnf installs from the rpm
// repository; fsck and gc agree with what was stored. Each host works on its own copy. v2 adds two
// distributions on two architectures, index files stored by that build (an uncompressed
// `Packages`, which this build no longer writes) beside ones this build writes, and a repository
// synced from GitHub Releases whose pool entries are remote (the GitHub stand-in, given back the
// releases the fixture recorded on the API port its stored entries name).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fsck as fsckRepo } from '../../src/core/fsck.js';
import { gc as gcRepo } from '../../src/core/gc.js';
import { DEFAULT_GC_TIMING } from '../../src/core/gc-protocol.js';
import { RepoStore } from '../../src/core/store.js';
import type { FileEntry } from '../../src/core/snapshot.js';
import { FsStorage } from '../../src/hosts/node/fs-storage.js';
import { createNodeHasher } from '../../src/hosts/node/hasher.js';
import { aptInstall, aptUpdate, chrootRun, configureApt, freshChroot, isInstalled, type Chroot } from '../helpers/chroot.js';
import { buildDeb } from '../helpers/debs.js';
import { startGitHubStandin, type GitHubStandin } from '../helpers/github/standin.js';
import { buildRpm } from '../helpers/rpms.js';
import { repoRoot, run } from '../helpers/exec.js';
import { aptLine, startServer } from '../helpers/server.js';
import { startWorkerd } from '../helpers/worker.js';

const FIXTURES = join(repoRoot, 'test/fixtures/upgrade');

interface SnapshotRow {
  id: string;
  seq: number;
  createdAt: string;
  actor: string;
  changes: Record<string, unknown>[];
}
interface PackageRow {
  package: string;
  version: string;
  architecture: string;
  filename: string;
  size: number;
  sha256: string;
  distribution: string;
}
/** What GitHub held when the fixture was made (v2): the stand-in is given exactly this back. */
interface GitHubState {
  apiUrl: string;
  repository: string;
  id: number;
  releases: { id: number; tag: string; createdAt: string; publishedAt: string | null; assets: { id: number; name: string; contentType: string; digest: string | null; createdAt: string; updatedAt: string }[] }[];
}
interface StoredRepo {
  snapshots: SnapshotRow[];
  packages: PackageRow[];
}
interface Expected {
  madeAt: string;
  signingKeys: string[];
  repos: Record<'acme' | 'yum', StoredRepo> & Record<string, StoredRepo>;
  tokens: Record<string, unknown>[];
  oidcPolicies: { acme: Record<string, unknown>[] };
  github?: GitHubState;
}
interface Fixture {
  name: 'v1' | 'v2';
  secrets: { admin: string; read: string; write: string };
  expected: Expected;
  /** The key the fixture was signed with, as committed: apt and dnf trust this one, never one the server hands out. */
  key: Uint8Array;
}
const fixture = (name: Fixture['name']): Fixture => ({
  name,
  secrets: JSON.parse(readFileSync(join(FIXTURES, `${name}-secrets.json`), 'utf8')) as Fixture['secrets'],
  expected: JSON.parse(readFileSync(join(FIXTURES, `${name}-expected.json`), 'utf8')) as Expected,
  key: new Uint8Array(readFileSync(join(FIXTURES, `${name}-public.gpg`))),
});

const cli = (args: string[]) => run(process.execPath, [join(repoRoot, 'bin/packyard.mjs'), ...args], { cwd: repoRoot, env: { PACKYARD_URL: '', PACKYARD_TOKEN: '', PACKYARD_ADMIN_TOKEN: '' }, timeoutMs: 120_000 });
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

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
async function copyOfFixture(fx: Fixture, work: string): Promise<string> {
  const data = join(work, 'data');
  await cp(join(FIXTURES, `${fx.name}-data`), data, { recursive: true });
  const age = new Date(fx.expected.madeAt);
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

/**
 * The Release's `SHA256:` lines (path → size and digest) of a signed InRelease.
 */
function releaseSha256(inRelease: string): Map<string, { size: number; sha256: string }> {
  const listed = new Map<string, { size: number; sha256: string }>();
  const section = /^SHA256:\n((?: .*\n)+)/m.exec(inRelease);
  for (const line of section?.[1]!.trimEnd().split('\n') ?? []) {
    const [sha, size, path] = line.trim().split(/\s+/);
    listed.set(path!, { size: Number(size), sha256: sha! });
  }
  return listed;
}

/** The head snapshot's file entries, read from the data directory as stored. */
async function headFiles(data: string, repo: string): Promise<Record<string, FileEntry>> {
  const { snapshot } = JSON.parse(await readFile(join(data, 'repos', repo, 'head.json'), 'utf8')) as { snapshot: string };
  return (JSON.parse(await readFile(join(data, 'repos', repo, 'snapshots', `${snapshot}.json`), 'utf8')) as { files: Record<string, FileEntry> }).files;
}

const hosts = [
  ['Node host (packyard serve)', 'node' as const],
  ['Worker host (workerd over the directory)', 'worker' as const],
];
describe.each((['v1', 'v2'] as const).flatMap((name) => hosts.map(([label, kind]) => [name, label, kind] as const)))('the %s fixture on the %s', (name, _, kind) => {
  const fx = fixture(name);
  const { secrets, expected } = fx;
  const madeAt = expected.madeAt;
  const headVersion = (repo: string, pkg: string) => expected.repos[repo]!.packages.find((p) => p.package === pkg)!.version;
  let host: Host;
  let data: string;
  let chroot: Chroot;
  let work: string;
  /** v2: the GitHub stand-in holding what GitHub held when the fixture was made. */
  let github: GitHubStandin | undefined;
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
    data = await copyOfFixture(fx, work);
    const start = async (): Promise<Host> => {
      // An empty PACKYARD_ADMIN_TOKEN: the server checks the admin token whose hash the fixture
      // stored. No periodic sync: the test syncs when it has changed what GitHub holds.
      if (kind === 'node') return startServer({ dataDir: data, token: '', args: ['--sync-interval', 'off'] });
      // The Worker takes its admin token from its environment only (the helper sets a random one);
      // the fixture's API tokens do the rest. It reaches the GitHub stand-in on 127.0.0.1.
      return startWorkerd({ data, allowLocal: true });
    };
    [chroot, host] = await Promise.all([freshChroot(), start()]);
  }, 600_000);

  afterAll(async () => {
    await host?.stop();
    await github?.close();
    await chroot?.dispose();
    if (work) {
      await endAgentsUnder(work);
      await rm(work, { recursive: true, force: true });
    }
  });

  it('serves the private deb repository to apt with the committed key and the stored read token', async () => {
    expect(new Uint8Array(await (await fetch(`${host.url}/acme/public.gpg`)).arrayBuffer())).toEqual(fx.key);
    expect((await fetch(`${host.url}/acme/dists/stable/InRelease`)).status).toBe(401);
    await configureApt(chroot.root, { sourcesLine: aptLine(host.url, 'acme', 'stable', 'main'), keyringBytes: fx.key, authConf: `machine ${host.url}/acme login apt password ${secrets.read}` });
    const update = await aptUpdate(chroot.root);
    expect(update.code, update.stdout + update.stderr).toBe(0);
    expect(update.stdout + update.stderr).not.toMatch(/NO_PUBKEY|not signed|Hash Sum mismatch/);
    const version = headVersion('acme', 'acme-tool');
    const install = await aptInstall(chroot.root, [`acme-tool=${version}`]);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    const installed = await chrootRun(chroot.root, ['dpkg-query', '-W', '-f', '${Package} ${Version}\n', 'acme-tool', 'acme-data']);
    expect(installed.stdout.split('\n').filter(Boolean).sort()).toEqual([`acme-data ${headVersion('acme', 'acme-data')}`, `acme-tool ${version}`]);
  }, 300_000);

  // v2's private deb repository: both distributions, both architectures.
  const acmeLines = (...dists: string[]) => dists.map((d) => aptLine(host.url, 'acme', d, 'main'));
  const configureAcme = (lines: string[]) => configureApt(chroot.root, { sourcesLine: lines.join('\n'), keyringBytes: fx.key, authConf: `machine ${host.url}/acme login apt password ${secrets.read}` });
  const installedVersions = async (pkgs: string[]) => (await chrootRun(chroot.root, ['dpkg-query', '-W', '-f', '${Package} ${Version}\n', ...pkgs])).stdout.split('\n').filter(Boolean).sort();
  /**
   * Every file a distribution's Release lists, `Packages` first among them, is served (by path and
   * by hash) with the size and SHA-256 listed: whether stored whole (by the old build) or kept
   * only as its .gz and decompressed as it goes out (by this one).
   */
  const servesWhatReleaseLists = async (repo: string, dist: string, token?: string) => {
    const headers = token ? bearer(token) : undefined;
    const inRelease = await fetch(`${host.url}/${repo}/dists/${dist}/InRelease`, { headers });
    expect(inRelease.status).toBe(200);
    const listed = releaseSha256(await inRelease.text());
    for (const arch of ['amd64', 'arm64']) expect([...listed.keys()]).toContain(`main/binary-${arch}/Packages`);
    for (const [path, want] of listed) {
      // apt fetches the package lists by hash (Acquire-By-Hash); the rest by path.
      const byHash = /\/Packages(\.gz)?$/.test(path) ? [`${path.slice(0, path.lastIndexOf('/'))}/by-hash/SHA256/${want.sha256}`] : [];
      for (const p of [path, ...byHash]) {
        const res = await fetch(`${host.url}/${repo}/dists/${dist}/${p}`, { headers });
        expect(res.status, `${dist}/${p}`).toBe(200);
        const body = new Uint8Array(await res.arrayBuffer());
        expect({ size: body.length, sha256: sha256(body) }, `${repo} ${dist}/${p}`).toEqual(want);
      }
    }
  };

  if (name === 'v2') {
    it('serves both distributions of the old build, each Packages as its Release lists it, and apt installs from each', async () => {
      for (const dist of ['stable', 'testing']) {
        // What the schema-2 build stored: Packages whole, beside its .gz.
        expect((await headFiles(data, 'acme'))[`dists/${dist}/main/binary-amd64/Packages`]!.encoding).toBeUndefined();
        await servesWhatReleaseLists('acme', dist, secrets.read);
      }
      await configureAcme(acmeLines('stable', 'testing'));
      const update = await aptUpdate(chroot.root);
      expect(update.code, update.stdout + update.stderr).toBe(0);
      expect(update.stdout + update.stderr).not.toMatch(/NO_PUBKEY|not signed|Hash Sum mismatch/);
      // acme-beta is only in testing; acme-tool and acme-data came from stable.
      const install = await aptInstall(chroot.root, [`acme-beta=${expected.repos.acme.packages.find((p) => p.package === 'acme-beta' && p.distribution === 'testing')!.version}`]);
      expect(install.code, install.stdout + install.stderr).toBe(0);
      expect(await installedVersions(['acme-beta', 'acme-data', 'acme-tool'])).toEqual([`acme-beta 2.0~rc1-1`, `acme-data ${headVersion('acme', 'acme-data')}`, `acme-tool ${headVersion('acme', 'acme-tool')}`]);
    }, 300_000);
  }

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

  if (name === 'v2') {
    it('publishes to the other distribution on top of the stored history; both serve Packages as their Release lists, now kept as .gz; apt installs from both', async () => {
      const deb = await buildDeb({ name: 'acme-beta', version: '2.0-1', arch: 'amd64', compression: 'xz', depends: 'acme-data', files: { 'usr/share/acme-beta/beta.txt': 'beta 2.0\n' } }, join(work, 'debs'));
      const before = await history('acme');
      const { snapshot } = await upload('acme', 'testing', deb.path);
      expect(snapshot).toMatchObject({ seq: before[0]!.seq + 1, actor: 'token:ci' });
      expect((await history('acme')).slice(1)).toEqual(before);
      for (const dist of ['stable', 'testing']) {
        // Both amd64 lists were re-rendered by this build (acme-extra went to stable): kept as .gz.
        expect((await headFiles(data, 'acme'))[`dists/${dist}/main/binary-amd64/Packages`]!.encoding).toBe('gzip');
        await servesWhatReleaseLists('acme', dist, secrets.read);
      }
      const update = await aptUpdate(chroot.root);
      expect(update.code, update.stdout + update.stderr).toBe(0);
      expect(update.stdout + update.stderr).not.toMatch(/NO_PUBKEY|not signed|Hash Sum mismatch/);
      const install = await aptInstall(chroot.root, ['acme-beta', 'acme-extra']);
      expect(install.code, install.stdout + install.stderr).toBe(0);
      expect(await installedVersions(['acme-beta', 'acme-extra'])).toEqual(['acme-beta 2.0-1', 'acme-extra 3.0-1']);
    }, 300_000);

    it('serves the repository synced from GitHub Releases from its stored remote pool entries, and a sync by this build adds only the new release', async () => {
      const gh = expected.github!;
      // The same GitHub: its releases, ids and times as recorded, on the API port the stored entries name.
      let clock: number | undefined;
      github = await startGitHubStandin({ apiPort: Number(new URL(gh.apiUrl).port), now: () => clock ?? Date.now() });
      expect(github.apiUrl).toBe(gh.apiUrl);
      expect(github.addRepo(gh.repository).id).toBe(gh.id);
      for (const release of gh.releases) {
        clock = Date.parse(release.createdAt);
        const assets = await Promise.all(release.assets.map(async (a) => ({ name: a.name, contentType: a.contentType, bytes: new Uint8Array(await readFile(join(FIXTURES, 'v2-github', a.name))) })));
        github.addRelease(gh.repository, { tag: release.tag, publishedAt: release.publishedAt ? new Date(release.publishedAt) : undefined, assets });
      }
      clock = undefined;
      expect(
        github.repo(gh.repository).releases.map((r) => ({
          id: r.id,
          tag: r.tag,
          createdAt: r.createdAt.toISOString(),
          publishedAt: r.publishedAt?.toISOString() ?? null,
          assets: r.assets.map((a) => ({ id: a.id, name: a.name, contentType: a.contentType, digest: a.digest, createdAt: a.createdAt.toISOString(), updatedAt: a.updatedAt.toISOString() })),
        })),
      ).toEqual(gh.releases);

      // A pool file is the asset's address as the old build stored it (redirect delivery).
      for (const p of expected.repos.gh!.packages) {
        const res = await fetch(`${host.url}/gh/${p.filename}`, { redirect: 'manual' });
        await res.body?.cancel();
        expect(res.status, p.filename).toBe(302);
        expect(res.headers.get('location')).toMatch(new RegExp(`^${gh.apiUrl}/${gh.repository}/releases/download/`));
      }
      const lines = [...acmeLines('stable', 'testing'), `deb [signed-by=/etc/apt/keyrings/acme.gpg] ${host.url}/gh stable main`];
      await configureAcme(lines);
      const update = await aptUpdate(chroot.root);
      expect(update.code, update.stdout + update.stderr).toBe(0);
      expect(update.stdout + update.stderr).not.toMatch(/NO_PUBKEY|not signed|Hash Sum mismatch/);
      const install = await aptInstall(chroot.root, ['gh-tool']);
      expect(install.code, install.stdout + install.stderr).toBe(0);
      expect(await installedVersions(['gh-lib', 'gh-tool'])).toEqual(['gh-lib 1.0', 'gh-tool 1.1']);

      const next = await buildDeb({ name: 'gh-tool', version: '1.2', arch: 'amd64', compression: 'xz', depends: 'gh-lib (>= 1.0)', files: { 'usr/share/gh-tool/tool.txt': 'tool 1.2\n' } }, join(work, 'gh'));
      github.addRelease(gh.repository, { tag: 'v1.2', assets: [{ name: 'gh-tool_1.2_amd64.deb', bytes: new Uint8Array(await readFile(next.path)) }] });
      const admin = kind === 'node' ? secrets.admin : host.token;
      const res = await fetch(`${host.url}/api/v1/repos/gh/sync`, { method: 'POST', headers: bearer(admin) });
      expect(res.status, await res.clone().text()).toBe(200);
      const { report } = (await res.json()) as { report: { snapshot: string | null; added: { package: string; version: string }[]; skipped: unknown[] } };
      expect(report.added).toEqual([expect.objectContaining({ package: 'gh-tool', version: '1.2' })]);
      expect(report.skipped).toEqual([]);
      const snapshots = await history('gh');
      expect(snapshots.map((s) => s.id)).toEqual([report.snapshot, ...expected.repos.gh!.snapshots.map((s) => s.id)]);
      expect(snapshots.slice(1)).toMatchObject(expected.repos.gh!.snapshots);

      expect((await aptUpdate(chroot.root)).code).toBe(0);
      const upgrade = await aptInstall(chroot.root, ['gh-tool']);
      expect(upgrade.code, upgrade.stdout + upgrade.stderr).toBe(0);
      expect(await installedVersions(['gh-tool'])).toEqual(['gh-tool 1.2']);
    }, 300_000);
  }

  it('serves the rpm repository to dnf with repo_gpgcheck and the committed key, and publishes a new rpm on top of its history', async () => {
    const repos = join(work, 'repos.d');
    await mkdir(repos, { recursive: true });
    const repoFile = await (await fetch(`${host.url}/yum/el9.repo`)).text();
    expect(repoFile).toMatch(/^repo_gpgcheck=1$/m);
    const trusted = repoFile.replace(/^gpgkey=.*$/m, `gpgkey=file://${join(FIXTURES, `${fx.name}-public.asc`)}`);
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
        expect(reports.map((x) => x.repo).sort()).toEqual(Object.keys(expected.repos).sort());
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
      for (const repo of ['acme', 'yum'] as const) {
        const stored = expected.repos[repo].snapshots;
        const now = await history(repo);
        expect(now.slice(now.length - stored.length)).toMatchObject(stored);
      }
      const update = await aptUpdate(chroot.root);
      expect(update.code, update.stdout + update.stderr).toBe(0);
      const again = await aptInstall(chroot.root, ['--reinstall', 'acme-tool', 'acme-data', 'acme-extra']);
      expect(again.code, again.stdout + again.stderr).toBe(0);
    }, 300_000);

    if (name === 'v2') {
      it('gc with no grace period keeps everything the head lists: every index and package is served as listed, and fsck is clean', async () => {
        // The CLI refuses a grace under 10 minutes (a publish in flight relies on it); none is in flight here.
        const store = new RepoStore(new FsStorage(data), { gcTiming: { ...DEFAULT_GC_TIMING, minGraceMs: 0 } });
        const retention = { graceMs: 0, generations: 0 };
        const repos = Object.keys(expected.repos).sort();
        const deleted: Record<string, number> = {};
        for (const repo of repos) {
          deleted[repo] = (await gcRepo(store, repo, { retention })).deleted.objects;
          expect((await fsckRepo(store, createNodeHasher, repo, { verifyContent: true, retention })).problems, repo).toEqual([]);
        }
        // It did collect: what only superseded snapshots named (the old build's indexes among them).
        expect(deleted.acme).toBeGreaterThan(0);
        expect(deleted.gh).toBeGreaterThan(0);
        for (const repo of repos) {
          const files = await headFiles(data, repo);
          const headers = repo === 'acme' ? bearer(secrets.read) : undefined;
          for (const [path, entry] of Object.entries(files)) {
            const body = new Uint8Array(await (await fetch(`${host.url}/${repo}/${path}`, { headers })).arrayBuffer());
            expect({ size: body.length, sha256: sha256(body) }, `${repo}/${path}`).toEqual({ size: entry.size, sha256: entry.sha256 });
          }
          // A deb pool path is below the repository; an rpm's below its repodata's folder (`el9/x86_64/`).
          const bases = Object.keys(files).filter((f) => f.endsWith('/repodata/repomd.xml')).map((f) => f.slice(0, -'repodata/repomd.xml'.length));
          const listed = JSON.parse((await cli(['ls', '--data', data, '--repo', repo, '--json'])).stdout) as PackageRow[];
          for (const p of listed) {
            for (const base of bases.length ? bases : ['']) {
              // Followed to GitHub (the stand-in) for a remote entry.
              const body = new Uint8Array(await (await fetch(`${host.url}/${repo}/${base}${p.filename}`, { headers })).arrayBuffer());
              expect({ size: body.length, sha256: sha256(body) }, `${repo}/${base}${p.filename}`).toEqual({ size: p.size, sha256: p.sha256 });
            }
          }
        }
        for (const dist of ['stable', 'testing']) await servesWhatReleaseLists('acme', dist, secrets.read);
        const update = await aptUpdate(chroot.root);
        expect(update.code, update.stdout + update.stderr).toBe(0);
        const again = await aptInstall(chroot.root, ['--reinstall', 'acme-tool', 'acme-data', 'acme-extra', 'acme-beta', 'gh-tool', 'gh-lib']);
        expect(again.code, again.stdout + again.stderr).toBe(0);
        const dnfAgain = await dnf(join(work, 'root'), join(work, 'repos.d'), ['--refresh', 'reinstall', 'acme-tool', 'acme-lib', 'acme-extra']);
        expect(dnfAgain.code, dnfAgain.stdout + dnfAgain.stderr).toBe(0);
      }, 300_000);
    }
  } else {
    it('collects garbage through the API (the admin token from its environment) without touching what apt reads', async () => {
      for (const repo of Object.keys(expected.repos)) {
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
