// The Terraform registry protocols, in-process: discovery, module versions and downloads through
// signed URLs, providers with a signed SHA256SUMS, the provider network mirror, and access.
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { runOk } from '../../helpers/exec.js';
import { testApp } from '../../helpers/app.js';
import { fsck } from '../../../src/core/fsck.js';
import { createNodeHasher } from '../../../src/hosts/node/hasher.js';

let dir: string;
let moduleTgz: Uint8Array<ArrayBuffer>;
let moduleZip: Uint8Array<ArrayBuffer>;
let providerZip: Uint8Array<ArrayBuffer>;

async function archive(kind: 'tar.gz' | 'zip', files: Record<string, string>): Promise<Uint8Array<ArrayBuffer>> {
  const root = await mkdtemp(join(dir, 'src-'));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), text);
  }
  const out = join(dir, `${Math.random().toString(36).slice(2)}.${kind}`);
  if (kind === 'tar.gz') await runOk('tar', ['-czf', out, '-C', root, '.']);
  else await runOk('sh', ['-c', `cd '${root}' && zip -qr '${out}' .`]);
  return new Uint8Array(await readFile(out));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'packyard-tf-'));
  moduleTgz = await archive('tar.gz', { 'main.tf': 'variable "x" {}\n', 'modules/sub/main.tf': 'output "y" { value = 1 }\n' });
  moduleZip = await archive('zip', { 'main.tf': 'variable "z" {}\n' });
  providerZip = await archive('zip', { 'terraform-provider-widget_v1.2.0': '#!/bin/sh\necho provider\n' });
});

describe('a Terraform registry', () => {
  const json = (body: unknown) => ({ method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

  it('serves modules: discovery, versions newest first, a 204 download to a signed URL that needs no token', async () => {
    const t = await testApp();
    expect((await t.request('/api/v1/repos', json({ name: 'infra', type: 'terraform' }))).status).toBe(201);
    for (const [version, bytes] of [['1.0.0', moduleTgz], ['1.1.0', moduleZip], ['2.0.0-beta.1', moduleTgz]] as const) {
      const res = await t.request(`/api/v1/repos/infra/modules/network/aws/${version}`, { method: 'POST', body: bytes });
      expect(res.status, await res.clone().text()).toBe(201);
    }
    const discovery = (await (await t.request('/.well-known/terraform.json', { token: null })).json()) as Record<string, string>;
    expect(discovery).toEqual({ 'modules.v1': '/-/terraform/modules/v1/', 'providers.v1': '/-/terraform/providers/v1/' });

    const versions = await t.request('/-/terraform/modules/v1/infra/network/aws/versions');
    expect(versions.status).toBe(200);
    expect(await versions.json()).toEqual({ modules: [{ versions: [{ version: '2.0.0-beta.1' }, { version: '1.1.0' }, { version: '1.0.0' }] }] });
    // Private: no token, no versions.
    expect((await t.request('/-/terraform/modules/v1/infra/network/aws/versions', { token: null })).status).toBe(401);

    const download = await t.request('/-/terraform/modules/v1/infra/network/aws/1.1.0/download', { headers: { 'x-forwarded-proto': 'https' } });
    expect(download.status).toBe(204);
    const location = download.headers.get('x-terraform-get')!;
    expect(location).toMatch(/^https:\/\/localhost\/infra\/modules\/network\/aws\/1\.1\.0\.zip\?expires=\d+&signature=[0-9a-f]{64}&archive=zip$/);
    // The archive with its signature and no token, as Terraform fetches it; without the signature: refused.
    const url = new URL(location);
    const fetched = await t.request(`${url.pathname}${url.search}`, { token: null });
    expect(fetched.status).toBe(200);
    expect(new Uint8Array(await fetched.arrayBuffer())).toEqual(moduleZip);
    expect((await t.request(url.pathname, { token: null })).status).toBe(401);
    const forged = url.search.replace(/signature=([0-9a-f])/, (_, c: string) => `signature=${c === '0' ? '1' : '0'}`);
    expect((await t.request(`${url.pathname}${forged}`, { token: null })).status).toBe(401);
    // Another module's path with this signature: refused.
    expect((await t.request(`/infra/modules/network/aws/1.0.0.tar.gz${url.search}`, { token: null })).status).toBe(401);

    // Names are read as sent, as for every repository file: an encoded name or slash reaches no other path.
    expect((await t.request('/-/terraform/modules/v1/inf%72a/network/aws/versions')).status).toBe(404);
    expect((await t.request('/-/terraform/modules/v1/infra%2Fmodules/network/aws/versions')).status).toBe(404);

    // The namespace's modules, paged with `meta`, and searched.
    await t.request('/api/v1/repos/infra/modules/vpc/aws/0.1.0', { method: 'POST', body: moduleTgz });
    const page = (await (await t.request('/-/terraform/modules/v1/infra?limit=1')).json()) as { meta: Record<string, number>; modules: { name: string; version: string }[] };
    expect(page).toEqual({ meta: { limit: 1, current_offset: 0, next_offset: 1 }, modules: [expect.objectContaining({ namespace: 'infra', name: 'network', provider: 'aws', version: '1.1.0' })] });
    const second = (await (await t.request('/-/terraform/modules/v1/infra?limit=1&offset=1')).json()) as { meta: Record<string, number>; modules: { name: string }[] };
    expect(second.meta).toEqual({ limit: 1, current_offset: 1, prev_offset: 0 });
    expect(second.modules.map((m) => m.name)).toEqual(['vpc']);
    expect(((await (await t.request('/-/terraform/modules/v1/infra?q=vp')).json()) as { modules: { name: string }[] }).modules.map((m) => m.name)).toEqual(['vpc']);

    // The latest stable version, and an identical re-upload changes nothing; other bytes are a 409.
    expect(await (await t.request('/-/terraform/modules/v1/infra/network/aws')).json()).toMatchObject({ version: '1.1.0' });
    expect((await t.request('/api/v1/repos/infra/modules/network/aws/1.1.0', { method: 'POST', body: moduleZip })).status).toBe(200);
    expect((await t.request('/api/v1/repos/infra/modules/network/aws/1.1.0', { method: 'POST', body: moduleTgz })).status).toBe(409);
  });

  it('refuses a version that is not semver, and what is not an archive, with a clear 4xx', async () => {
    const t = await testApp();
    await t.request('/api/v1/repos', json({ name: 'infra', type: 'terraform' }));
    const notSemver = await t.request('/api/v1/repos/infra/modules/network/aws/v1.0', { method: 'POST', body: moduleTgz });
    expect(notSemver.status).toBe(422);
    expect(((await notSemver.json()) as { error: { code: string } }).error.code).toBe('invalid-version');
    const notArchive = await t.request('/api/v1/repos/infra/modules/network/aws/1.0.0', { method: 'POST', body: new TextEncoder().encode('hello') });
    expect(notArchive.status).toBe(422);
    const noTf = await t.request('/api/v1/repos/infra/modules/network/aws/1.0.0', { method: 'POST', body: await archive('zip', { 'README.md': '# nothing here\n' }) });
    expect(noTf.status).toBe(422);
    expect(((await noTf.json()) as { error: { code: string } }).error.code).toBe('no-terraform-files');
    const badProvider = await t.request('/api/v1/repos/infra/providers/widget/1.0.0/linux/amd64', { method: 'POST', body: await archive('zip', { 'widget.exe': 'x' }) });
    expect(badProvider.status).toBe(422);
    // Nothing of the refused uploads was published.
    expect(((await (await t.request('/api/v1/repos/infra/packages')).json()) as { packages: unknown[] }).packages).toEqual([]);
  });

  it('serves providers: versions with platforms, a download answer with signed URLs, SHA256SUMS signed by a listed key', async () => {
    const t = await testApp();
    await t.request('/api/v1/repos', json({ name: 'infra', type: 'terraform' }));
    const up = await t.request('/api/v1/repos/infra/providers/widget/1.2.0/linux/amd64?protocols=5.0,6.0', { method: 'POST', body: providerZip });
    expect(up.status, await up.clone().text()).toBe(201);
    expect(await (await t.request('/-/terraform/providers/v1/infra/widget/versions')).json()).toEqual({ versions: [{ version: '1.2.0', protocols: ['5.0', '6.0'], platforms: [{ os: 'linux', arch: 'amd64' }] }] });
    const answer = (await (await t.request('/-/terraform/providers/v1/infra/widget/1.2.0/download/linux/amd64')).json()) as Record<string, unknown> & { signing_keys: { gpg_public_keys: { key_id: string; ascii_armor: string }[] } };
    const sha = createHash('sha256').update(providerZip).digest('hex');
    expect(answer).toMatchObject({ os: 'linux', arch: 'amd64', filename: 'terraform-provider-widget_1.2.0_linux_amd64.zip', shasum: sha, protocols: ['5.0', '6.0'] });
    const get = async (u: unknown) => {
      const parsed = new URL(u as string);
      const res = await t.request(`${parsed.pathname}${parsed.search}`, { token: null });
      expect(res.status).toBe(200);
      return new Uint8Array(await res.arrayBuffer());
    };
    expect(await get(answer.download_url)).toEqual(providerZip);
    const sums = await get(answer.shasums_url);
    expect(new TextDecoder().decode(sums)).toBe(`${sha}  terraform-provider-widget_1.2.0_linux_amd64.zip\n`);
    const signature = await openpgp.readSignature({ binarySignature: await get(answer.shasums_signature_url) });
    const [key] = answer.signing_keys.gpg_public_keys;
    const verified = await openpgp.verify({ message: await openpgp.createMessage({ binary: sums }), signature, verificationKeys: await openpgp.readKey({ armoredKey: key!.ascii_armor }) });
    await expect(verified.signatures[0]!.verified).resolves.toBe(true);
    expect(key!.key_id).toMatch(/^[0-9A-F]{16}$/);

    // fsck knows the format: every file the snapshot references (zip, SHA256SUMS, signature) is intact.
    const report = await fsck(t.service.store, createNodeHasher, 'infra', { verifyContent: true });
    expect(report.problems).toEqual([]);
    expect(report.checked).toBeGreaterThanOrEqual(3);
    const listed = (await (await t.request('/api/v1/repos/infra/packages')).json()) as { packages: { package: string; version: string; architecture: string }[] };
    expect(listed.packages).toEqual([expect.objectContaining({ package: 'widget', version: '1.2.0', architecture: 'linux_amd64' })]);
  });

  it('serves a provider network mirror: index.json, <version>.json with zh: hashes and signed archive URLs', async () => {
    const t = await testApp();
    await t.request('/api/v1/repos', json({ name: 'mirror', type: 'terraform' }));
    const up = await t.request('/api/v1/repos/mirror/mirror/registry.terraform.io/hashicorp/widget/1.2.0/linux/amd64', { method: 'POST', body: providerZip });
    expect(up.status, await up.clone().text()).toBe(201);
    expect(await (await t.request('/mirror/mirror/registry.terraform.io/hashicorp/widget/index.json')).json()).toEqual({ versions: { '1.2.0': {} } });
    const version = (await (await t.request('/mirror/mirror/registry.terraform.io/hashicorp/widget/1.2.0.json')).json()) as { archives: Record<string, { url: string; hashes: string[] }> };
    const sha = createHash('sha256').update(providerZip).digest('hex');
    expect(version.archives.linux_amd64!.hashes).toContain(`zh:${sha}`);
    expect(version.archives.linux_amd64!.hashes[0]).toMatch(/^h1:[A-Za-z0-9+/]{43}=$/);
    const url = new URL(version.archives.linux_amd64!.url);
    expect(new Uint8Array(await (await t.request(`${url.pathname}${url.search}`, { token: null })).arrayBuffer())).toEqual(providerZip);
  });
});
