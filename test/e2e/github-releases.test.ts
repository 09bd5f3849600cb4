// Packages kept in GitHub Releases, end to end with real clients, on both hosts (`packyard serve`
// and the Worker under wrangler dev), against the GitHub stand-in (a real HTTP server: API on one
// port, signed asset URLs on another): apt in a Debian chroot with signature checking on and dnf
// with repo_gpgcheck install what sync published, through both delivery modes, from a public and
// a private GitHub repository, and get the asset's very bytes; a signed webhook makes a new
// release installable within seconds, a forged one changes nothing; a 300 MB asset streams whole
// and in ranges in both modes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { readdir, mkdtemp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aptInstall, aptUpdate, chrootRun, configureApt, freshChroot, isInstalled, type Chroot } from '../helpers/chroot.js';
import { buildDeb } from '../helpers/debs.js';
import { buildRpm, type RpmSpec } from '../helpers/rpms.js';
import { run } from '../helpers/exec.js';
import { aptLine, startServer } from '../helpers/server.js';
import { startWorker } from '../helpers/worker.js';
import { startGitHubStandin, webhookHeaders, type GitHubStandin } from '../helpers/github/standin.js';
import { createSynced, firstAnswer, sha256, snapshotId, streamedDigest, type Host, type SyncReport } from '../helpers/github/releases.js';

const HUGE = 300 * 1000 * 1000;

let gh: GitHubStandin;
let chroot: Chroot;
let work: string;
/** Asset bytes by file name, as uploaded to the stand-in. */
const assets = new Map<string, Uint8Array>();
let hugeName: string;

async function debAsset(spec: Parameters<typeof buildDeb>[0]): Promise<{ name: string; bytes: Uint8Array }> {
  const built = await buildDeb(spec, join(work, 'debs'));
  const name = `${spec.name}_${spec.version}_${spec.arch ?? 'all'}.deb`;
  assets.set(name, new Uint8Array(await readFile(built.path)));
  return { name, bytes: assets.get(name)! };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'packyard-gh-e2e-'));
  [gh, chroot] = await Promise.all([startGitHubStandin(), freshChroot()]);

  // A public repository: a library in one release, the tool that depends on it in the next.
  gh.addRepo('acme/tools');
  gh.addRelease('acme/tools', { tag: 'v1.0', assets: [await debAsset({ name: 'gh-lib', version: '1.0', arch: 'all', compression: 'xz', files: { 'usr/share/gh-lib/lib.txt': 'lib' } }), { name: 'SHA256SUMS', bytes: randomBytes(64) }] });
  gh.addRelease('acme/tools', { tag: 'v1.1', assets: [await debAsset({ name: 'gh-tool', version: '1.1', arch: 'amd64', compression: 'zstd', depends: 'gh-lib (>= 1.0)', files: { 'usr/share/gh-tool/tool.txt': 'tool' } })] });
  // A private one, read with a token; one asset has no digest (hashed by streaming it once).
  gh.addRepo('acme/private', { private: true });
  gh.addToken('ghp_e2e_private', ['acme/private']);
  const secret = await debAsset({ name: 'gh-secret', version: '2.0', arch: 'amd64', compression: 'gzip', files: { 'usr/share/gh-secret/s.txt': 'secret' } });
  gh.addRelease('acme/private', { tag: 'v2.0', assets: [{ ...secret, digest: false }] });

  // RPMs: a tool requiring a library, in one release.
  gh.addRepo('acme/rpms');
  const rpmAssets = [];
  const rpmSpecs: RpmSpec[] = [
    { name: 'gh-rpm-lib', version: '1.0', release: '1', files: { '/usr/share/gh-rpm-lib/lib.txt': 'lib' } },
    { name: 'gh-rpm-tool', version: '1.0', release: '1', arch: 'x86_64', requires: ['gh-rpm-lib >= 1.0'], files: { '/usr/share/gh-rpm-tool/tool.txt': 'tool' } },
  ];
  for (const spec of rpmSpecs) {
    const built = await buildRpm(spec, join(work, 'rpms'));
    const name = `${spec.name}-${spec.version}-${spec.release}.${spec.arch ?? 'noarch'}.rpm`;
    assets.set(name, new Uint8Array(await readFile(built.path)));
    rpmAssets.push({ name, bytes: assets.get(name)! });
  }
  gh.addRelease('acme/rpms', { tag: 'v1.0', assets: rpmAssets });

  // One 300 MB package (a real .deb with an uncompressed payload), shared by both hosts.
  gh.addRepo('acme/big');
  const payload = randomBytes(HUGE);
  const huge = await debAsset({ name: 'huge', version: '1.0', arch: 'amd64', compression: 'none', files: { 'usr/share/huge/blob': payload } });
  hugeName = huge.name;
  gh.addRelease('acme/big', { tag: 'v1.0', assets: [huge] });
}, 300_000);

afterAll(async () => {
  expect(gh?.stats.assetAuthRefused, 'no request reached the asset host with an Authorization header').toBe(0);
  await gh?.close();
  await chroot?.dispose();
  await run('pkill', ['-f', `gpg-agent --homedir ${work}/`]);
});

/** The `Filename:` of `pkg` in the repository's amd64 Packages. */
async function poolPath(host: Host, repo: string, pkg: string, token?: string): Promise<string> {
  const res = await fetch(`${host.url}/${repo}/dists/stable/main/binary-amd64/Packages`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  expect(res.status).toBe(200);
  const stanza = (await res.text()).split('\n\n').find((s) => s.startsWith(`Package: ${pkg}\n`));
  expect(stanza, `${pkg} in Packages of ${repo}`).toBeDefined();
  return /^Filename: (.+)$/m.exec(stanza!)![1]!;
}

/** What apt downloaded into its cache for `file` (apt keeps the pool file name). */
async function archived(file: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(join(chroot.root, 'var/cache/apt/archives', file)));
}

describe.each([
  ['Node host (packyard serve)', (): Promise<Host> => startServer()],
  ['Worker host (wrangler dev)', (): Promise<Host> => startWorker()],
])('GitHub Releases on the %s', (_, start) => {
  let host: Host;

  beforeAll(async () => {
    host = await start();
  }, 120_000);
  afterAll(async () => {
    await host?.stop();
  });

  describe.each([
    ['redirect', 'a public', false],
    ['proxy', 'a public', false],
    ['redirect', 'a private', true],
    ['proxy', 'a private', true],
  ] as const)('apt, %s delivery from %s GitHub repository', (delivery, _which, isPrivate) => {
    it('installs the release assets with apt-get, signature checking on, and apt downloads the assets\' bytes', async () => {
      const repo = `${isPrivate ? 'priv' : 'pub'}-${delivery}`;
      const github = isPrivate ? { repository: 'acme/private', apiUrl: gh.apiUrl, delivery, token: 'ghp_e2e_private' } : { repository: 'acme/tools', apiUrl: gh.apiUrl, delivery };
      const synced = await createSynced(host, repo, { type: 'deb', public: !isPrivate, github });
      const pkgs = isPrivate ? ['gh-secret'] : ['gh-tool', 'gh-lib'];
      expect(synced.report.added.map((p) => p.package).sort()).toEqual([...pkgs].sort());

      // The delivery mode is what the pool URL answers: a redirect to GitHub, or the bytes themselves.
      const files = new Map<string, string>();
      for (const pkg of pkgs) {
        const pool = await poolPath(host, repo, pkg, synced.readToken);
        files.set(pkg, pool.slice(pool.lastIndexOf('/') + 1));
        const first = await firstAnswer(`${host.url}/${repo}/${pool}`, synced.readToken);
        if (delivery === 'proxy') expect(first.status).toBe(200);
        else {
          expect(first.status).toBe(302);
          // Public: the asset's download URL on github.com; private: the signed URL on the asset host, no token in it.
          expect(first.location!.startsWith(isPrivate ? gh.assetUrl : `${gh.apiUrl}/acme/tools/releases/download/`), first.location!).toBe(true);
          expect(first.location).not.toContain('ghp_');
        }
      }

      await configureApt(chroot.root, {
        sourcesLine: aptLine(host.url, repo, 'stable', 'main'),
        keyringBytes: new Uint8Array(await (await fetch(`${host.url}/${repo}/public.gpg`)).arrayBuffer()),
        authConf: synced.readToken ? `machine ${host.url}/${repo} login apt password ${synced.readToken}` : undefined,
      });
      const update = await aptUpdate(chroot.root);
      expect(update.code, update.stdout + update.stderr).toBe(0);
      expect(update.stdout + update.stderr).not.toMatch(/NO_PUBKEY|not signed|Hash Sum mismatch/);
      const install = await aptInstall(chroot.root, [pkgs[0]!]);
      expect(install.code, install.stdout + install.stderr).toBe(0);
      for (const pkg of pkgs) {
        expect(await isInstalled(chroot.root, pkg), pkg).toBe(true);
        const bytes = await archived(files.get(pkg)!);
        expect(sha256(bytes), `${pkg}: apt's download equals the asset`).toBe(sha256(assets.get(files.get(pkg)!)!));
      }
      const purge = await chrootRun(chroot.root, ['dpkg', '--purge', ...pkgs]);
      expect(purge.code, purge.stderr).toBe(0);
    });
  });

  describe.each(['redirect', 'proxy'] as const)('dnf, %s delivery', (delivery) => {
    it('installs RPM assets into an --installroot with repo_gpgcheck, and dnf downloads the assets\' bytes', async () => {
      const repo = `rpm-${delivery}`;
      const synced = await createSynced(host, repo, { type: 'rpm', public: true, github: { repository: 'acme/rpms', apiUrl: gh.apiUrl, delivery, distribution: 'el9' } });
      expect(synced.report.added.map((p) => p.package).sort()).toEqual(['gh-rpm-lib', 'gh-rpm-tool']);
      const first = await firstAnswer(`${host.url}/${repo}/el9/x86_64/Packages/g/gh-rpm-tool-1.0-1.x86_64.rpm`);
      expect(first.status).toBe(delivery === 'proxy' ? 200 : 302);

      const repoFile = await (await fetch(`${host.url}/${repo}/el9.repo`)).text();
      expect(repoFile).toMatch(/^repo_gpgcheck=1$/m);
      const dir = join(work, `${repo}-${host.url.replace(/\W/g, '')}`);
      const repos = join(dir, 'repos.d');
      await mkdir(repos, { recursive: true });
      await writeFile(join(repos, `${repo}.repo`), repoFile);
      const root = join(dir, 'root');
      const cache = join(root, 'cache');
      const install = await run('dnf', ['-y', '-q', `--installroot=${root}`, '--releasever=12', `--setopt=reposdir=${repos}`, `--setopt=cachedir=${cache}`, '--setopt=keepcache=1', '--setopt=skip_if_unavailable=0', 'install', 'gh-rpm-tool'], { timeoutMs: 300_000 });
      expect(install.code, install.stdout + install.stderr).toBe(0);
      const installed = await run('rpm', ['--root', root, '-q', 'gh-rpm-tool', 'gh-rpm-lib']);
      expect(installed.code, installed.stdout + installed.stderr).toBe(0);

      const downloaded = (await readdir(cache, { recursive: true })).filter((f) => f.endsWith('.rpm'));
      for (const name of ['gh-rpm-lib-1.0-1.noarch.rpm', 'gh-rpm-tool-1.0-1.x86_64.rpm']) {
        const file = downloaded.find((f) => f.endsWith(`/${name}`));
        expect(file, `${name} in dnf's cache (${downloaded.join(', ')})`).toBeDefined();
        expect(sha256(new Uint8Array(await readFile(join(cache, file!)))), `${name}: dnf's download equals the asset`).toBe(sha256(assets.get(name)!));
      }
    });
  });

  it('publishes a new release on its signed webhook within seconds; a forged webhook changes nothing', async () => {
    const repo = 'hooked';
    // A GitHub repository of this host's own: one release now, the next one published below.
    const github = `acme/hooked-${randomBytes(4).toString('hex')}`;
    gh.addRepo(github);
    gh.addRelease(github, { tag: 'v1', assets: [await debAsset({ name: 'hook-tool', version: '1.0', arch: 'amd64', compression: 'xz' })] });
    const secret = `hook-${randomBytes(8).toString('hex')}`;
    // Private: GitHub's delivery carries no token, so the route (on the Worker: past its read check) checks the signature alone.
    const { readToken } = await createSynced(host, repo, { type: 'deb', public: false, github: { repository: github, apiUrl: gh.apiUrl, webhookSecret: secret } });
    await configureApt(chroot.root, {
      sourcesLine: aptLine(host.url, repo, 'stable', 'main'),
      keyringBytes: new Uint8Array(await (await fetch(`${host.url}/${repo}/public.gpg`)).arrayBuffer()),
      authConf: `machine ${host.url}/${repo} login apt password ${readToken}`,
    });
    const candidate = async () => {
      const update = await aptUpdate(chroot.root);
      expect(update.code, update.stdout + update.stderr).toBe(0);
      const policy = await chrootRun(chroot.root, ['apt-cache', 'policy', 'hook-tool']);
      return /Candidate: (\S+)/.exec(policy.stdout)?.[1];
    };
    expect(await candidate()).toBe('1.0');

    // The next release is published on GitHub, and GitHub tells Packyard.
    gh.addRelease(github, { tag: 'v2', assets: [await debAsset({ name: 'hook-tool', version: '2.0', arch: 'amd64', compression: 'xz' })] });
    const body = JSON.stringify({ action: 'published', release: { tag_name: 'v2' }, repository: { full_name: github } });
    const hook = (headers: Record<string, string>) => fetch(`${host.url}/api/v1/repos/${repo}/github-webhook`, { method: 'POST', headers, body });

    const before = await snapshotId(host, repo);
    for (const forged of [webhookHeaders('not-the-secret', 'release', body), { ...webhookHeaders(secret, 'release', body), 'x-hub-signature-256': '' }]) {
      const res = await hook(forged);
      expect(res.status, await res.text()).toBe(401);
    }
    expect(await snapshotId(host, repo)).toBe(before);
    expect(await candidate()).toBe('1.0');

    const sent = performance.now();
    const res = await hook(webhookHeaders(secret, 'release', body));
    const answered = performance.now();
    const answer = (await res.json()) as { ok: boolean; action: string; report: SyncReport };
    expect(res.status, JSON.stringify(answer)).toBe(200);
    expect(answer.report.added).toEqual([expect.objectContaining({ package: 'hook-tool', version: '2.0' })]);
    expect(answered - sent, 'webhook answered (after its sync) in under 2 s').toBeLessThan(2000);
    expect(await snapshotId(host, repo)).not.toBe(before);
    expect(await candidate()).toBe('2.0');
    const seen = performance.now();
    console.log(`${host.url}: webhook answered in ${(answered - sent).toFixed(0)} ms; apt-get update saw 2.0 ${(seen - answered).toFixed(0)} ms after the answer`);
    const install = await aptInstall(chroot.root, ['hook-tool']);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    expect(sha256(await archived('hook-tool_2.0_amd64.deb'))).toBe(sha256(assets.get('hook-tool_2.0_amd64.deb')!));
    await chrootRun(chroot.root, ['dpkg', '--purge', 'hook-tool']);
  });

  describe.each(['redirect', 'proxy'] as const)('a 300 MB asset, %s delivery', (delivery) => {
    it('is published by sync and streams whole with the asset\'s SHA-256, and in ranges', async () => {
      const repo = `big-${delivery}`;
      const started = performance.now();
      const synced = await createSynced(host, repo, { type: 'deb', public: true, github: { repository: 'acme/big', apiUrl: gh.apiUrl, delivery } });
      expect(synced.report.added).toEqual([expect.objectContaining({ package: 'huge', version: '1.0' })]);
      const syncMs = performance.now() - started;
      const url = `${host.url}/${repo}/${await poolPath(host, repo, 'huge')}`;
      const asset = assets.get(hugeName)!;
      expect((await firstAnswer(url)).status).toBe(delivery === 'proxy' ? 200 : 302);

      const t0 = performance.now();
      const whole = await streamedDigest(url);
      const streamMs = performance.now() - t0;
      expect(whole.status).toBe(200);
      expect(whole.redirected).toBe(delivery === 'redirect');
      expect(whole.size).toBe(asset.length);
      expect(whole.sha256).toBe(sha256(asset));

      const from = 123_456_789;
      const part = await fetch(url, { headers: { range: `bytes=${from}-${from + 9999}` } });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe(`bytes ${from}-${from + 9999}/${asset.length}`);
      expect(new Uint8Array(await part.arrayBuffer())).toEqual(asset.subarray(from, from + 10_000));
      const tail = await fetch(url, { headers: { range: 'bytes=-4096' } });
      expect(tail.status).toBe(206);
      expect(new Uint8Array(await tail.arrayBuffer())).toEqual(asset.subarray(asset.length - 4096));
      console.log(`${host.url} ${delivery}: sync of the 300 MB asset ${syncMs.toFixed(0)} ms, whole GET ${streamMs.toFixed(0)} ms`);
    }, 120_000);
  });

  it('survives clients that go away in the middle of a proxied download, and stops pulling from GitHub for them', async () => {
    const url = `${host.url}/big-proxy/${await poolPath(host, 'big-proxy', 'huge')}`;
    const cutBefore = gh.stats.assetCut;
    for (let i = 0; i < 3; i++) {
      const aborter = new AbortController();
      const res = await fetch(url, { signal: aborter.signal });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      let got = 0;
      while (got < 5_000_000) got += (await reader.read()).value!.length;
      aborter.abort();
      await reader.closed.catch(() => {});
    }
    // Each upstream answer is cut off too: the host does not keep reading 300 MB nobody wants.
    for (let i = 0; i < 100 && gh.stats.assetCut < cutBefore + 3; i++) await new Promise((r) => setTimeout(r, 100));
    expect(gh.stats.assetCut - cutBefore).toBe(3);
    expect((await fetch(`${host.url}/healthz`)).status).toBe(200);
    const asset = assets.get(hugeName)!;
    const tail = await fetch(url, { headers: { range: 'bytes=-65536' } });
    expect(tail.status).toBe(206);
    expect(new Uint8Array(await tail.arrayBuffer())).toEqual(asset.subarray(asset.length - 65536));
  }, 120_000);
});
