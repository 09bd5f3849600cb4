// A repository whose source is a GitHub repository's releases, through the API, against the
// GitHub stand-in (a real HTTP server on two ports): sync, delivery, webhook, secrets.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGitHubStandin, webhookHeaders, type GitHubStandin } from '../../helpers/github/standin.js';
import { buildDeb } from '../../helpers/debs.js';
import { buildRpm } from '../../helpers/rpms.js';
import { testApp } from '../../helpers/app.js';
import { fileText } from '../../helpers/service.js';
import { openDataDir } from '../../../src/hosts/node/runtime.js';
import { exportTree } from '../../../src/hosts/node/export.js';

let dir: string;
const debs = new Map<string, Uint8Array>();

/** A .deb of `name` `version` (bytes cached per pair: the same package is the same file). */
async function deb(name: string, version: string, payload = 2048): Promise<Uint8Array> {
  const key = `${name}_${version}_${payload}`;
  if (!debs.has(key)) {
    const built = await buildDeb({ name, version, arch: 'amd64', compression: 'none', files: { [`usr/share/${name}/data`]: randomBytes(payload) } }, join(dir, key));
    debs.set(key, new Uint8Array(await readFile(built.path)));
  }
  return debs.get(key)!;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'packyard-sync-'));
});

describe('a repository synced from GitHub Releases', () => {
  let gh: GitHubStandin;
  let t: Awaited<ReturnType<typeof testApp>>;
  const json = (body: unknown) => ({ method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const create = async (name: string, source: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
    const res = await t.request('/api/v1/repos', json({ name, type: 'deb', public: true, source: { github: { apiUrl: gh.apiUrl, ...source } }, ...extra }));
    expect(res.status, await res.clone().text()).toBe(201);
    return ((await res.json()) as { repo: Record<string, unknown> }).repo;
  };
  const sync = async (repo: string) => {
    const res = await t.request(`/api/v1/repos/${repo}/sync`, { method: 'POST' });
    const body = (await res.json()) as { report: Record<string, unknown> & { added: { package: string }[]; removed: unknown[]; skipped: { reason: string; asset?: string }[] } };
    expect(res.status, JSON.stringify(body)).toBe(200);
    return body.report;
  };
  const packagesOf = async (repo: string, distribution = 'stable') => {
    const snapshot = await t.service.getRepo(repo);
    const entry = snapshot.files[`dists/${distribution}/main/binary-amd64/Packages`];
    return entry ? fileText(t.storage, entry) : '';
  };

  beforeEach(async () => {
    gh = await startGitHubStandin();
    t = await testApp();
    gh.addRepo('acme/tools');
  });
  afterEach(async () => {
    expect(gh.stats.assetAuthRefused).toBe(0);
    await gh.close();
  });

  it('publishes the .deb assets of every release (second page, no digest), skips drafts and other assets, and reads only ranges', async () => {
    for (let i = 1; i <= 120; i++) gh.addRelease('acme/tools', { tag: `v0.${i}`, assets: i === 1 ? [{ name: 'tool_0.1_amd64.deb', bytes: await deb('tool', '0.1', 300_000), digest: false }] : [{ name: 'SHA256SUMS', bytes: randomBytes(64) }] });
    gh.addRelease('acme/tools', { tag: 'v1.0', assets: [{ name: 'tool_1.0_amd64.deb', bytes: await deb('tool', '1.0', 300_000) }, { name: 'tool-1.0.tar.gz', bytes: randomBytes(100) }] });
    gh.addRelease('acme/tools', { tag: 'v2.0', draft: true, assets: [{ name: 'tool_2.0_amd64.deb', bytes: await deb('tool', '2.0') }] });
    const repo = await create('tools', { repository: 'acme/tools' });
    expect(repo.source).toMatchObject({ github: { repository: 'acme/tools', delivery: 'redirect', distribution: 'stable', component: 'main', prereleases: null, token: null } });

    gh.resetStats();
    const report = await sync('tools');
    expect(report.added.map((p) => p.package + ' ' + (p as unknown as { version: string }).version).sort()).toEqual(['tool 0.1', 'tool 1.0']);
    expect(report.ignored).toBe(120);
    expect(report.snapshot).toEqual(expect.any(String));
    const packages = await packagesOf('tools');
    expect(packages).toContain('Version: 1.0');
    expect(packages).toContain('Version: 0.1');
    // The release on the second page, whose asset had no digest, was hashed once in full; the other read by ranges.
    const sha01 = createHash('sha256').update(await deb('tool', '0.1', 300_000)).digest('hex');
    expect(packages).toContain(`SHA256: ${sha01}`);
    // The asset without a digest was streamed once (its control data read on the way); the other: one range.
    expect(report.bytesFetched).toBe(gh.stats.assetBytes);
    expect(gh.stats.assetBytes).toBe((await deb('tool', '0.1', 300_000)).length + 64 * 1024);

    // Nothing changed: at most 2 requests that count against the rate limit, nothing published.
    gh.resetStats();
    const again = await sync('tools');
    expect(again.snapshot).toBeNull();
    expect(again.unchanged).toBe(2);
    expect(gh.stats.counted).toBeLessThanOrEqual(2);
    expect(gh.stats.assetRequests).toBe(0);

    // A pool file redirects to the asset's download URL.
    const filename = /Filename: (.*tool_1\.0_amd64\.deb)/.exec(packages)![1]!;
    const served = await t.request(`/tools/${filename}`, { token: null });
    expect(served.status).toBe(302);
    const followed = await fetch(served.headers.get('location')!);
    expect(new Uint8Array(await followed.arrayBuffer())).toEqual(await deb('tool', '1.0', 300_000));

    // A deleted release disappears with the next sync.
    gh.removeRelease('acme/tools', 'v1.0');
    const removed = await sync('tools');
    expect(removed.removed).toHaveLength(1);
    expect(await packagesOf('tools')).not.toContain('Version: 1.0');
  });

  it('leaves out releases older than the versions retention keeps, and a second sync publishes nothing', async () => {
    for (const v of ['1.0', '1.1', '1.2']) gh.addRelease('acme/tools', { tag: `v${v}`, assets: [{ name: `tool_${v}_amd64.deb`, bytes: await deb('tool', v) }] });
    await create('kept', { repository: 'acme/tools' }, { retention: { keepVersions: 2 } });
    const first = await sync('kept');
    expect(first.added.map((p) => (p as unknown as { version: string }).version).sort()).toEqual(['1.1', '1.2']);
    expect(first.skipped).toEqual([expect.objectContaining({ asset: 'tool_1.0_amd64.deb', reason: expect.stringMatching(/older than the versions stable keeps \(retention\)/) })]);
    expect((await packagesOf('kept')).match(/^Version: .*$/gm)!.sort()).toEqual(['Version: 1.1', 'Version: 1.2']);
    // Offered again, the old release is left out again: no snapshot, no churn in the history.
    const second = await sync('kept');
    expect(second.snapshot).toBeNull();
    expect(second.added).toEqual([]);
    const history = await (await t.request('/api/v1/repos/kept/snapshots')).json() as { snapshots: unknown[] };
    expect(history.snapshots).toHaveLength(2);
  });

  it('keeps secrets out of every answer, and proxies a private repository\'s assets with the token kept on the server', async () => {
    gh.addRepo('acme/secret', { private: true });
    gh.addToken('ghp_secret', ['acme/secret']);
    const bytes = await deb('secret-tool', '1.0', 200_000);
    gh.addRelease('acme/secret', { tag: 'v1', assets: [{ name: 'secret-tool_1.0_amd64.deb', bytes }] });
    const shown = await create('secret', { repository: 'acme/secret', delivery: 'proxy', token: 'ghp_secret', webhookSecret: 'hook-secret' });
    expect(shown.source).toMatchObject({ github: { token: 'set', webhookSecret: 'set' } });
    expect(JSON.stringify(shown)).not.toContain('ghp_secret');
    expect(JSON.stringify(await (await t.request('/api/v1/repos/secret')).json())).not.toContain('hook-secret');
    expect(JSON.stringify(await (await t.request('/api/v1/repos/secret/snapshots')).json())).not.toContain('ghp_secret');

    await sync('secret');
    const filename = /Filename: (.*)/.exec(await packagesOf('secret'))![1]!;
    const served = await t.request(`/secret/${filename}`, { token: null });
    expect(served.status).toBe(200);
    expect(new Uint8Array(await served.arrayBuffer())).toEqual(bytes);
    const ranged = await t.request(`/secret/${filename}`, { token: null, headers: { range: 'bytes=100-199' } });
    expect(ranged.status).toBe(206);
    expect(new Uint8Array(await ranged.arrayBuffer())).toEqual(bytes.subarray(100, 200));

    // Redirect delivery of a private asset: the signed URL, not the token.
    const patched = await t.request('/api/v1/repos/secret', { ...json({ source: { github: { delivery: 'redirect' } } }), method: 'PATCH' });
    expect(patched.status, await patched.clone().text()).toBe(200);
    expect(((await patched.json()) as { repo: { source: { github: { token: string } } } }).repo.source.github.token).toBe('set');
    // A change of delivery alone keeps what the last sync saw: the next listing is free.
    gh.resetStats();
    expect((await sync('secret')).snapshot).toBeNull();
    expect(gh.stats.counted).toBe(0);
    const redirect = await t.request(`/secret/${filename}`, { token: null });
    expect(redirect.status).toBe(302);
    const location = redirect.headers.get('location')!;
    expect(location.startsWith(gh.assetUrl)).toBe(true);
    expect(location).not.toContain('ghp_secret');
    expect(new Uint8Array(await (await fetch(location)).arrayBuffer())).toEqual(bytes);
  });

  it('passes the heartbeat, then names an asset whose bytes changed on GitHub (even at the same size, without --full)', async () => {
    const bytes = await deb('tool', '1.0');
    gh.addRelease('acme/tools', { tag: 'v1', assets: [{ name: 'tool_1.0_amd64.deb', bytes }] });
    await create('beat', { repository: 'acme/tools' });
    await sync('beat');
    const check = async () => ((await (await t.request('/api/v1/repos/beat/check')).json()) as { check: { ok: boolean; broken: { path: string; problem: string }[] } }).check;
    expect(await check()).toMatchObject({ ok: true, broken: [] });

    const asset = gh.repo('acme/tools').releases[0]!.assets[0]!;
    gh.replaceAssetBytes(asset.id, bytes.map((b, i) => (i === 1000 ? b ^ 0xff : b)));
    const filename = /Filename: (.*)/.exec(await packagesOf('beat'))![1]!;
    expect(await check()).toMatchObject({ ok: false, broken: [{ path: filename, problem: 'sha256' }] });
  });

  it('authenticates as a GitHub App: one installation token shared by every process on the storage', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    gh.addRepo('acme/app-only', { private: true });
    await gh.addApp({ id: 4242, publicKey, installations: { 77: ['acme/app-only'] } });
    gh.addRelease('acme/app-only', { tag: 'v1', assets: [{ name: 'tool_1.0_amd64.deb', bytes: await deb('tool', '1.0') }] });
    const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
    const shown = await create('app', { repository: 'acme/app-only', app: { id: 4242, installationId: 77, privateKey: pem } });
    expect(shown.source).toMatchObject({ github: { app: { id: '4242', installationId: '77', privateKey: 'set' }, token: null } });
    expect(JSON.stringify(shown)).not.toContain('PRIVATE KEY');
    expect((await sync('app')).added).toHaveLength(1);
    // Another process on the same storage (a second server, a Worker isolate): no second exchange.
    const other = await testApp(undefined, t.storage);
    expect((await other.request('/api/v1/repos/app/sync', { method: 'POST' })).status).toBe(200);
    expect(gh.issuedTokens).toHaveLength(1);
  });

  it('syncs on a signed release webhook, and a forged or unsigned one changes nothing', async () => {
    await create('hooked', { repository: 'acme/tools', webhookSecret: 'right' });
    gh.addRelease('acme/tools', { tag: 'v1', assets: [{ name: 'tool_1.0_amd64.deb', bytes: await deb('tool', '1.0') }] });
    const body = JSON.stringify({ action: 'published', release: { tag_name: 'v1' }, repository: { full_name: 'acme/tools' } });
    const before = (await t.service.getRepo('hooked')).id;
    for (const headers of [webhookHeaders('wrong', 'release', body), { ...webhookHeaders('right', 'release', body), 'x-hub-signature-256': '' }, webhookHeaders('right', 'release', body + ' ')]) {
      const res = await t.app.request('/api/v1/repos/hooked/github-webhook', { method: 'POST', headers, body });
      expect(res.status).toBe(401);
    }
    expect((await t.service.getRepo('hooked')).id).toBe(before);

    const ping = await t.app.request('/api/v1/repos/hooked/github-webhook', { method: 'POST', headers: webhookHeaders('right', 'ping', '{}'), body: '{}' });
    expect(ping.status).toBe(200);
    const push = await t.app.request('/api/v1/repos/hooked/github-webhook', { method: 'POST', headers: webhookHeaders('right', 'push', '{}'), body: '{}' });
    expect(push.status).toBe(202);

    const started = Date.now();
    const res = await t.app.request('/api/v1/repos/hooked/github-webhook', { method: 'POST', headers: webhookHeaders('right', 'release', body), body });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await packagesOf('hooked')).toContain('Package: tool');
  });

  it('puts prereleases where the settings say, or skips them; a bad asset is skipped with its reason', async () => {
    gh.addRelease('acme/tools', { tag: 'v1', assets: [{ name: 'tool_1.0_amd64.deb', bytes: await deb('tool', '1.0') }, { name: 'broken_1.0_amd64.deb', bytes: randomBytes(500) }] });
    gh.addRelease('acme/tools', { tag: 'v2-rc1', prerelease: true, assets: [{ name: 'tool_2.0_amd64.deb', bytes: await deb('tool', '2.0') }] });
    await create('skipping', { repository: 'acme/tools' });
    const skipping = await sync('skipping');
    expect(skipping.skipped.map((s) => s.reason).join('\n')).toMatch(/prerelease/);
    expect(skipping.skipped.find((s) => s.asset === 'broken_1.0_amd64.deb')).toBeDefined();
    expect(await packagesOf('skipping')).not.toContain('Version: 2.0');

    await create('testing', { repository: 'acme/tools', prereleases: 'testing' });
    await sync('testing');
    expect(await packagesOf('testing', 'testing')).toContain('Version: 2.0');
    expect(await packagesOf('testing', 'stable')).not.toContain('Version: 2.0');

    // The prerelease made a release: it moves to stable in one snapshot.
    gh.repo('acme/tools').releases.find((r) => r.tag === 'v2-rc1')!.prerelease = false;
    const promoted = await sync('testing');
    expect(promoted.added).toMatchObject([{ package: 'tool', version: '2.0', distribution: 'stable' }]);
    expect(promoted.removed).toMatchObject([{ package: 'tool', version: '2.0', distribution: 'testing', release: 'v2-rc1', asset: 'tool_2.0_amd64.deb' }]);
    expect(await packagesOf('testing', 'stable')).toContain('Version: 2.0');
    expect(await packagesOf('testing', 'testing')).not.toContain('Version: 2.0');
  });

  it('skips an asset whose pool file would be another package\'s (versions differing only by epoch), publishing the rest', async () => {
    gh.addRelease('acme/tools', { tag: 'v1', assets: [{ name: 'tool_1.0_amd64.deb', bytes: await deb('tool', '1.0') }] });
    gh.addRelease('acme/tools', { tag: 'v1-epoch', assets: [{ name: 'tool_1.0_amd64-epoch.deb', bytes: await deb('tool', '1:1.0') }, { name: 'other_1.0_amd64.deb', bytes: await deb('other', '1.0') }] });
    await create('epochs', { repository: 'acme/tools' });
    const report = await sync('epochs');
    expect(report.added.map((p) => p.package).sort()).toEqual(['other', 'tool']);
    expect(report.skipped).toEqual([expect.objectContaining({ release: 'v1', asset: 'tool_1.0_amd64.deb', reason: expect.stringContaining('another package') })]);
  });

  it('moves a package to its new address when the same bytes come back in another release, and follows a change of visibility', async () => {
    const bytes = await deb('tool', '1.0');
    gh.addRelease('acme/tools', { tag: 'v1', assets: [{ name: 'tool_1.0_amd64.deb', bytes }] });
    gh.addToken('ghp_tools', ['acme/tools']);
    await create('moved', { repository: 'acme/tools', token: 'ghp_tools' });
    await sync('moved');
    const filename = /Filename: (.*)/.exec(await packagesOf('moved'))![1]!;
    const redirected = async () => (await t.request(`/moved/${filename}`, { token: null })).headers.get('location')!;
    expect(await redirected()).toContain('/releases/download/v1/');

    gh.removeRelease('acme/tools', 'v1');
    gh.addRelease('acme/tools', { tag: 'v1.0.1', assets: [{ name: 'tool_1.0_amd64.deb', bytes }] });
    const moved = await sync('moved');
    expect(moved.snapshot).not.toBeNull();
    expect(await redirected()).toContain('/releases/download/v1.0.1/');
    expect((await sync('moved')).snapshot).toBeNull();

    // Made private on GitHub: the public download URL would 404, so clients go to a signed URL.
    gh.repo('acme/tools').private = true;
    expect((await sync('moved')).snapshot).not.toBeNull();
    const location = await redirected();
    expect(location.startsWith(gh.assetUrl)).toBe(true);
    expect(new Uint8Array(await (await fetch(location)).arrayBuffer())).toEqual(bytes);
  });

  it('answers a rate-limited sync with 503 and Retry-After, publishing nothing', async () => {
    gh.addRelease('acme/tools', { tag: 'v1', assets: [{ name: 'tool_1.0_amd64.deb', bytes: await deb('tool', '1.0') }] });
    await create('limited', { repository: 'acme/tools' });
    gh.setRemaining('anonymous', 0);
    const res = await t.request('/api/v1/repos/limited/sync', { method: 'POST' });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('github-rate-limited');
  });

  it('refuses bad source settings with a 400 naming the field', async () => {
    for (const [github, field] of [
      [{ repository: 'not a repo' }, 'source.github.repository'],
      [{ repository: 'a/b', delivery: 'teleport' }, 'source.github.delivery'],
      [{ repository: 'a/b', token: 'x', app: { id: 1, installationId: 2, privateKey: '-----BEGIN RSA PRIVATE KEY-----' } }, 'source.github'],
      [{}, 'source.github.repository'],
    ] as const) {
      const res = await t.request('/api/v1/repos', json({ name: 'bad', type: 'deb', source: { github: github } }));
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toContain(field);
    }
    expect((await t.request('/api/v1/repos', json({ name: 'bad', source: { gitlab: {} } }))).status).toBe(400);
    expect((await t.request('/api/v1/repos/bad')).status).toBe(404);

    expect((await t.request('/api/v1/repos', json({ name: 'bad', source: { github: { repository: 'a/b', apiUrl: 'http://github.example.com/api/v3' } } }))).status).toBe(400);

    // Pointed at another server or repository, the stored credentials stay behind.
    await create('pointed', { repository: 'acme/tools', token: 'ghp_keep', webhookSecret: 'hook' });
    const elsewhere = await t.request('/api/v1/repos/pointed', { ...json({ source: { github: { apiUrl: 'http://127.0.0.2:9' } } }), method: 'PATCH' });
    expect(((await elsewhere.json()) as { repo: { source: { github: Record<string, unknown> } } }).repo.source.github).toMatchObject({ token: null, webhookSecret: 'set' });
    await create('renamed', { repository: 'acme/tools', token: 'ghp_keep' });
    const renamed = await t.request('/api/v1/repos/renamed', { ...json({ source: { github: { repository: 'other/repo' } } }), method: 'PATCH' });
    expect(((await renamed.json()) as { repo: { source: { github: Record<string, unknown> } } }).repo.source.github).toMatchObject({ token: null });

    // A change refused for another field leaves the secrets as they were.
    await create('kept', { repository: 'acme/tools', token: 'ghp_first' });
    const refused = await t.request('/api/v1/repos/kept', { ...json({ architectures: ['NOT AN ARCH'], source: { github: { token: null } } }), method: 'PATCH' });
    expect(refused.status).toBe(400);
    const kept = (await (await t.request('/api/v1/repos/kept')).json()) as { repo: { source: { github: { token: string | null } } } };
    expect(kept.repo.source.github.token).toBe('set');
  });
});

describe('export of a repository synced from GitHub Releases', () => {
  it('downloads the release assets into the tree, checked against their SHA-256', async () => {
    const gh = await startGitHubStandin();
    try {
      gh.addRepo('acme/tools');
      const bytes = await deb('tool', '1.0');
      gh.addRelease('acme/tools', { tag: 'v1', assets: [{ name: 'tool_1.0_amd64.deb', bytes }] });
      const runtime = await openDataDir(await mkdtemp(join(tmpdir(), 'packyard-export-data-')));
      await runtime.sources.createRepo({ name: 'tools', type: 'deb', source: { github: { repository: 'acme/tools', apiUrl: gh.apiUrl } } }, 'test');
      await runtime.sources.sync('tools');
      const out = await mkdtemp(join(tmpdir(), 'packyard-export-'));
      await exportTree(runtime, 'tools', out);
      const packages = await readFile(join(out, 'dists/stable/main/binary-amd64/Packages'), 'utf8');
      const filename = /Filename: (.*)/.exec(packages)![1]!;
      expect(new Uint8Array(await readFile(join(out, filename)))).toEqual(bytes);

      // An asset whose bytes are no longer what the repository lists is refused, not written.
      const asset = gh.repo('acme/tools').releases[0]!.assets[0]!;
      gh.replaceAssetBytes(asset.id, bytes.map((b, i) => (i === bytes.length - 1 ? b ^ 1 : b)));
      const again = await mkdtemp(join(tmpdir(), 'packyard-export-'));
      await expect(exportTree(runtime, 'tools', again)).rejects.toMatchObject({ status: 502, code: 'download-mismatch' });
      await expect(readFile(join(again, filename))).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await gh.close();
    }
  });
});

describe('an RPM repository synced from GitHub Releases', () => {
  let gh: GitHubStandin;
  beforeAll(async () => {
    gh = await startGitHubStandin();
  });
  afterAll(() => gh.close());

  it('publishes .rpm assets into repodata', async () => {
    const t = await testApp();
    gh.addRepo('acme/rpms');
    const rpm = await buildRpm({ name: 'gh-lib', version: '1.0', release: '1' }, join(dir, 'rpm'));
    gh.addRelease('acme/rpms', { tag: 'v1', assets: [{ name: 'gh-lib-1.0-1.noarch.rpm', bytes: new Uint8Array(await readFile(rpm.path)) }] });
    const res = await t.request('/api/v1/repos', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'rpms', type: 'rpm', public: true, source: { github: { repository: 'acme/rpms', apiUrl: gh.apiUrl, distribution: 'el9' } } }) });
    expect(res.status).toBe(201);
    const synced = await t.request('/api/v1/repos/rpms/sync', { method: 'POST' });
    expect(synced.status, await synced.clone().text()).toBe(200);
    const listed = (await (await t.request('/api/v1/repos/rpms/packages')).json()) as { packages: { package: string; sha256: string }[] };
    expect(listed.packages).toEqual([expect.objectContaining({ package: 'gh-lib', sha256: rpm.sha256 })]);
  });
});
