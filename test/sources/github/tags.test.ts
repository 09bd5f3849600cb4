// A Terraform module whose versions are a GitHub repository's semver tags, against the stand-in:
// the tags' tarballs, proxied with the server's credentials; a tag pushed syncs by webhook.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGitHubStandin, webhookHeaders, type GitHubStandin } from '../../helpers/github/standin.js';
import { runOk } from '../../helpers/exec.js';
import { testApp } from '../../helpers/app.js';

/** A tarball as GitHub makes one: every file under one top folder named for the repository and commit. */
async function tarball(top: string, files: Record<string, string>): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'packyard-tag-'));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, top, path, '..'), { recursive: true });
    await writeFile(join(dir, top, path), text);
  }
  await runOk('tar', ['-czf', join(dir, 'out.tar.gz'), '-C', dir, top]);
  return new Uint8Array(await readFile(join(dir, 'out.tar.gz')));
}

describe('a Terraform module from GitHub tags', () => {
  let gh: GitHubStandin;
  let t: Awaited<ReturnType<typeof testApp>>;
  const json = (body: unknown) => ({ method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const versions = async () => ((await (await t.request('/-/terraform/modules/v1/mods/network/aws/versions')).json()) as { modules: { versions: { version: string }[] }[] }).modules[0]!.versions.map((v) => v.version);

  beforeEach(async () => {
    gh = await startGitHubStandin();
    t = await testApp();
  });
  afterEach(async () => {
    expect(gh.stats.assetAuthRefused).toBe(0);
    await gh.close();
  });

  it('publishes each semver tag as a version, serves its tarball through Packyard with the token kept there, and follows tags deleted and pushed', async () => {
    gh.addRepo('acme/terraform-aws-network', { private: true });
    gh.addToken('ghp_mods', ['acme/terraform-aws-network']);
    const v1 = await tarball('acme-terraform-aws-network-1111111', { 'main.tf': 'variable "cidr" {}\n' });
    gh.addTag('acme/terraform-aws-network', { name: 'v1.0.0', tarball: v1 });
    gh.addTag('acme/terraform-aws-network', { name: 'v1.1.0-beta.1', tarball: await tarball('acme-terraform-aws-network-2222222', { 'main.tf': 'variable "cidr" {}\n' }) });
    gh.addTag('acme/terraform-aws-network', { name: 'latest', tarball: v1 });
    gh.addTag('acme/terraform-aws-network', { name: 'v0.9.0', tarball: await tarball('acme-terraform-aws-network-3333333', { 'README.md': 'no module here\n' }) });
    const created = await t.request('/api/v1/repos', json({ name: 'mods', type: 'terraform', source: { github: { repository: 'acme/terraform-aws-network', apiUrl: gh.apiUrl, token: 'ghp_mods', webhookSecret: 'hook' } } }));
    expect(created.status, await created.clone().text()).toBe(201);

    const synced = await t.request('/api/v1/repos/mods/sync', { method: 'POST' });
    const report = ((await synced.json()) as { report: { added: { version: string }[]; ignored: number; skipped: { release: string; reason: string }[] } }).report;
    expect(synced.status).toBe(200);
    expect(report.added.map((a) => a.version).sort()).toEqual(['1.0.0', '1.1.0-beta.1']);
    expect(report.ignored).toBe(1);
    expect(report.skipped).toEqual([expect.objectContaining({ release: 'v0.9.0', reason: expect.stringContaining('no Terraform file') })]);
    expect(await versions()).toEqual(['1.1.0-beta.1', '1.0.0']);

    // The location names the tarball's one top folder, and carries a signature instead of a token.
    const download = await t.request('/-/terraform/modules/v1/mods/network/aws/1.0.0/download');
    expect(download.status).toBe(204);
    const location = download.headers.get('x-terraform-get')!;
    expect(location).toMatch(/\/mods\/modules\/network\/aws\/1\.0\.0\.tar\.gz\/\/\*\?expires=\d+&signature=[0-9a-f]{64}&archive=tar\.gz$/);
    const url = new URL(location.replace('//*', ''));
    const fetched = await t.request(`${url.pathname}${url.search}`, { token: null });
    expect(fetched.status).toBe(200);
    expect(new Uint8Array(await fetched.arrayBuffer())).toEqual(v1);
    expect(gh.stats.log.some((r) => r.authorization?.includes('ghp_mods') && r.url.includes('/tarball/'))).toBe(true);

    // Nothing changed: nothing published; a tag deleted, one pushed and its webhook: both land.
    expect(((await (await t.request('/api/v1/repos/mods/sync', { method: 'POST' })).json()) as { report: { snapshot: string | null } }).report.snapshot).toBeNull();
    gh.removeTag('acme/terraform-aws-network', 'v1.1.0-beta.1');
    gh.addTag('acme/terraform-aws-network', { name: 'v1.2.0', tarball: await tarball('acme-terraform-aws-network-4444444', { 'main.tf': 'variable "cidr" {}\noutput "id" { value = 1 }\n' }) });
    const body = JSON.stringify({ ref: 'refs/tags/v1.2.0', repository: { full_name: 'acme/terraform-aws-network' } });
    const hook = await t.app.request('/api/v1/repos/mods/github-webhook', { method: 'POST', headers: webhookHeaders('hook', 'push', body), body });
    expect(hook.status, await hook.clone().text()).toBe(200);
    expect(await versions()).toEqual(['1.2.0', '1.0.0']);
    // A push of a branch changes nothing.
    const branch = JSON.stringify({ ref: 'refs/heads/main', repository: { full_name: 'acme/terraform-aws-network' } });
    expect((await t.app.request('/api/v1/repos/mods/github-webhook', { method: 'POST', headers: webhookHeaders('hook', 'push', branch), body: branch })).status).toBe(202);
  });

  it('needs the module named when the repository is not named terraform-<system>-<name>', async () => {
    gh.addRepo('acme/network');
    gh.addTag('acme/network', { name: 'v1.0.0', tarball: await tarball('acme-network-1', { 'main.tf': '' }) });
    await t.request('/api/v1/repos', json({ name: 'mods', type: 'terraform', source: { github: { repository: 'acme/network', apiUrl: gh.apiUrl } } }));
    const refused = await t.request('/api/v1/repos/mods/sync', { method: 'POST' });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('no-module-name');
    await t.request('/api/v1/repos/mods', { ...json({ source: { github: { module: 'network/aws' } } }), method: 'PATCH' });
    expect((await t.request('/api/v1/repos/mods/sync', { method: 'POST' })).status).toBe(200);
    expect(await versions()).toEqual(['1.0.0']);
  });
});
