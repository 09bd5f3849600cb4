// Proves the real-peer test infrastructure works on its own, without Packyard: a
// repository made by apt-ftparchive, signed by a throwaway gpg key, served over loopback,
// must be accepted by bookworm's apt in a chroot with signature checking on, and the
// packages (generated and real Debian ones) must install. If this file fails, the
// Packyard end-to-end tests cannot be trusted either way.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  aptInChroot,
  aptInstall,
  aptRoot,
  aptUpdate,
  configureApt,
  ensureChroot,
  freshChroot,
  isInstalled,
  type Chroot,
} from './chroot.js';
import { buildDeb, fetchRealDebs, type DebCompression, type DebFile, type RealDebName } from './debs.js';
import { run, runOk } from './exec.js';
import { buildFtpArchiveRepo } from './ftparchive.js';
import { makeTestKey, type TestKey } from './gpg.js';
import { serveStatic, type StaticServer } from './static-server.js';

const timings: Record<string, number> = {};
async function timed<T>(label: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await f();
  } finally {
    timings[label] = Math.round(performance.now() - t0);
  }
}

let work: string;
let key: TestKey;
let otherKey: TestKey;
let server: StaticServer;
let authServer: StaticServer;
let chroot: Chroot;
let smoke: DebFile;
let real: Record<RealDebName, DebFile>;

const line = (url: string, keyName = 'test') => `deb [signed-by=/etc/apt/keyrings/${keyName}.gpg] ${url}/ stable main`;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'packyard-infra-'));
  await timed('chroot build (0 when cached)', ensureChroot);
  chroot = await timed('chroot copy', freshChroot);
  console.log(`chroot copy made by ${chroot.kind}`);
  [key, otherKey, real] = await Promise.all([makeTestKey(), makeTestKey('Other <other@packyard.invalid>'), fetchRealDebs()]);
  smoke = await buildDeb(
    {
      name: 'packyard-smoke',
      version: '1:1.0-1',
      arch: 'all',
      depends: 'packyard-smoke-dep (>= 0.5)',
      description: 'smoke test package\nIt proves apt installs from the test repository.\n\nSecond paragraph.',
      fields: { Section: 'misc', Priority: 'optional' },
      files: { 'usr/share/packyard-smoke/hello.txt': 'hello from packyard-smoke\n' },
    },
    path.join(work, 'debs'),
  );
  const dep = await buildDeb(
    { name: 'packyard-smoke-dep', version: '0.5', arch: 'amd64', compression: 'zstd', files: { 'usr/share/packyard-smoke-dep/x': 'x' } },
    path.join(work, 'debs'),
  );
  const repo = path.join(work, 'repo');
  await buildFtpArchiveRepo({
    dir: repo,
    key,
    debs: [smoke.path, dep.path, real['vim-common'].path, real['vim-tiny'].path, real.xxd.path],
  });
  server = await serveStatic(repo);
  authServer = await serveStatic(repo, { basicAuth: { user: 'ci', password: 's3cret' } });
});

afterAll(async () => {
  await server?.close();
  await authServer?.close();
  await chroot?.dispose();
  await key?.dispose();
  await otherKey?.dispose();
  if (work) await rm(work, { recursive: true, force: true });
  console.log('infra timings (ms):', JSON.stringify(timings));
});

describe('chroot + apt with signature checking', () => {
  it('installs a generated package and its dependency from a signed apt-ftparchive repository', async () => {
    const r = await timed('chroot apt-get update + install (generated)', () =>
      aptInChroot(chroot.root, { sourcesLine: line(server.url), keyringBytes: key.publicKey }, ['packyard-smoke']),
    );
    expect(r.update.code, r.update.stderr).toBe(0);
    expect(r.update.stderr).not.toMatch(/^W:/m);
    expect(r.install?.code, `${r.install?.stderr}${r.install?.stdout}`).toBe(0);
    expect(await isInstalled(chroot.root, 'packyard-smoke')).toBe(true);
    expect(await isInstalled(chroot.root, 'packyard-smoke-dep')).toBe(true);
    const payload = await readFile(path.join(chroot.root, 'usr/share/packyard-smoke/hello.txt'), 'utf8');
    expect(payload).toBe('hello from packyard-smoke\n');
    // apt really went through InRelease, not an unsigned path.
    expect(server.requests.some((q) => q.path === '/dists/stable/InRelease' && q.status === 200)).toBe(true);
  });

  it('installs the real Debian packages (epoch, Architecture: all, exact-version Depends) into minbase', async () => {
    expect(real['vim-tiny'].version).toMatch(/^\d+:/);
    expect(real['vim-common'].arch).toBe('all');
    const r = await timed('chroot apt-get install (real debs)', () => aptInstall(chroot.root, ['vim-tiny']));
    expect(r.code, r.stderr + r.stdout).toBe(0);
    for (const p of ['vim-tiny', 'vim-common', 'xxd'] as const) expect(await isInstalled(chroot.root, p), p).toBe(true);
    // Nothing but our three real packages was installed: minbase had every other dependency.
    expect(r.stdout).toMatch(/^0 upgraded, 3 newly installed/m);
    const v = await run('chroot', [chroot.root, '/usr/bin/vim.tiny', '--version']);
    expect(v.stdout).toMatch(/VIM - Vi IMproved 9\.0/);
  });

  it('refuses the repository when signed-by holds a different key', async () => {
    await configureApt(chroot.root, { sourcesLine: line(server.url), keyringBytes: otherKey.publicKey });
    const r = await aptUpdate(chroot.root);
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toMatch(/NO_PUBKEY|not signed|signature/i);
  });

  it('gives each suite a clean copy: installs do not leak into the cached chroot', async () => {
    const pristine = await ensureChroot();
    expect(existsSync(path.join(pristine, 'usr/share/packyard-smoke'))).toBe(false);
    const other = await freshChroot();
    try {
      expect(await isInstalled(other.root, 'packyard-smoke')).toBe(false);
    } finally {
      await other.dispose();
    }
    expect(existsSync(other.root)).toBe(false);
  });

  it('reaps the copy of a test process that died without dispose()', async () => {
    // A pid that has certainly exited stands for the crashed process.
    const dead = spawnSync('true').pid;
    const pristine = await ensureChroot();
    const parent = path.join(os.tmpdir(), `packyard-chroot-${dead}-stale`);
    await mkdir(path.join(parent, 'root'), { recursive: true });
    await mkdir(path.join(parent, 'upper'));
    await mkdir(path.join(parent, 'work'));
    await runOk('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${pristine},upperdir=${parent}/upper,workdir=${parent}/work`, `${parent}/root`]);
    const next = await freshChroot();
    await next.dispose();
    expect(existsSync(parent)).toBe(false);
    expect(existsSync(path.join(pristine, 'usr/bin/apt-get'))).toBe(true);
  });
});

describe('aptRoot (host apt, throwaway state)', () => {
  it('updates, resolves and downloads with hash checks, isolated from the host sources', async () => {
    const a = await aptRoot();
    try {
      await a.configure({ sourcesLine: line(server.url), keyringBytes: key.publicKey });
      const u = await timed('aptRoot apt-get update', () => a.update());
      expect(u.code, u.stderr).toBe(0);
      const policy = await a.aptCache(['policy', 'packyard-smoke']);
      expect(policy.stdout).toMatch(/Candidate: 1:1\.0-1/);
      // The host's Debian sources are not visible: only our repository.
      const bash = await a.aptCache(['policy', 'bash']);
      expect(bash.stdout).not.toMatch(/Candidate: \d/);
      const d = await a.aptGet(['download', 'packyard-smoke']);
      expect(d.code, d.stderr).toBe(0);
      const got = await readFile(path.join(a.dir, 'download', 'packyard-smoke_1%3a1.0-1_all.deb'));
      expect(got.equals(await readFile(smoke.path))).toBe(true);
    } finally {
      await a.dispose();
    }
  });

  it('sends auth.conf credentials (and fails without them)', async () => {
    const a = await aptRoot();
    try {
      await a.configure({ sourcesLine: line(authServer.url), keyringBytes: key.publicKey });
      const denied = await a.update();
      expect(denied.code).not.toBe(0);
      // Without the http:// prefix apt ignores the entry on an unencrypted protocol.
      await a.configure({
        sourcesLine: line(authServer.url),
        keyringBytes: key.publicKey,
        authConf: `machine ${authServer.url} login ci password s3cret`,
      });
      const ok = await a.update();
      expect(ok.code, ok.stderr).toBe(0);
      expect(authServer.requests.some((q) => q.status === 200 && q.authorization?.startsWith('Basic '))).toBe(true);
    } finally {
      await a.dispose();
    }
  });
});

describe('buildDeb', () => {
  const members: Record<DebCompression, string[]> = {
    xz: ['debian-binary', 'control.tar.xz', 'data.tar.xz'],
    gzip: ['debian-binary', 'control.tar.gz', 'data.tar.gz'],
    zstd: ['debian-binary', 'control.tar.zst', 'data.tar.zst'],
    none: ['debian-binary', 'control.tar', 'data.tar'],
  };
  for (const comp of Object.keys(members) as DebCompression[]) {
    it(`builds ${comp} packages dpkg-deb can read back`, async () => {
      const d = await buildDeb(
        { name: `c-${comp}`, version: '2:3.4~rc1-1', arch: 'amd64', compression: comp, description: 'short\nlong line', files: { 'etc/c': 'c' } },
        path.join(work, 'compressions'),
      );
      expect(path.basename(d.path)).toBe(`c-${comp}_3.4~rc1-1_amd64.deb`);
      const ar = await runOk('ar', ['t', d.path]);
      expect(ar.stdout.trim().split('\n')).toEqual(members[comp]);
      const info = await runOk('dpkg-deb', ['-f', d.path, 'Version', 'Description']);
      expect(info.stdout).toBe('Version: 2:3.4~rc1-1\nDescription: short\n long line\n');
    });
  }

  it('is reproducible (SOURCE_DATE_EPOCH)', async () => {
    const spec = { name: 'repro', version: '1', files: { 'usr/share/repro/a': 'a' } };
    const a = await buildDeb(spec, path.join(work, 'r1'));
    const b = await buildDeb(spec, path.join(work, 'r2'));
    expect(a.sha256).toBe(b.sha256);
  });
});
