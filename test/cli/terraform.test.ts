// The Terraform commands as users run them: `module publish` (a directory packed, or an archive),
// `provider publish`, `mirror publish`, `ls`, and `export` of a static network mirror.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdir, mkdtemp, readdir, readFile, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { repoRoot, run, runOk } from '../helpers/exec.js';

const cli = (args: string[], env: Record<string, string> = {}) => run('node', [join(repoRoot, 'bin/packyard.mjs'), ...args], { env, timeoutMs: 120_000 });

let work: string;
let server: RunningServer;
let providerZip: string;

/** Every file under `dir` (relative paths, sorted) with its content and whether it is executable. */
async function tree(dir: string): Promise<Record<string, { text: string; exec: boolean }>> {
  const out: Record<string, { text: string; exec: boolean }> = {};
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out[relative(dir, p)] = { text: await readFile(p, 'utf8'), exec: ((await stat(p)).mode & 0o100) !== 0 };
    }
  };
  await walk(dir);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

async function write(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), text);
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'packyard-tf-cli-'));
  server = await startServer(); // also builds dist/ for the CLI
  const p = join(work, 'provider');
  await write(p, { 'terraform-provider-widget_v1.2.0': '#!/bin/sh\necho provider\n' });
  providerZip = join(work, 'terraform-provider-widget_1.2.0_linux_amd64.zip');
  await runOk('sh', ['-c', `cd '${p}' && zip -qr '${providerZip}' .`]);
});

afterAll(async () => {
  await server?.stop();
});

describe('packyard module/provider/mirror publish', () => {
  it('publishes a directory to a server as a .tar.gz that unpacks to its files, without .git/, .terraform/ and state', async () => {
    const dir = join(work, 'network');
    await write(dir, {
      'main.tf': 'variable "cidr" {}\n',
      'modules/subnet/main.tf': 'output "id" { value = 1 }\n',
      'scripts/setup.sh': '#!/bin/sh\necho hi\n',
      '.git/config': '[core]\n',
      '.terraform/modules/modules.json': '{}\n',
      'terraform.tfstate': '{"secret": 1}\n',
      'terraform.tfstate.backup': '{"secret": 2}\n',
      'modules/subnet/.terraform/x': 'x\n',
    });
    await chmod(join(dir, 'scripts/setup.sh'), 0o755);
    // A link inside the directory is packed as the file it names.
    await symlink('main.tf', join(dir, 'alias.tf'));
    const auth = { PACKYARD_TOKEN: server.token };
    expect((await cli(['repo', 'create', 'infra', '--type', 'terraform', '--url', server.url], auth)).code).toBe(0);

    const args = ['module', 'publish', dir, '--url', server.url, '--repo', 'infra', '--name', 'network', '--system', 'aws', '--version', '1.0.0'];
    const published = await cli(args, auth);
    expect(published.code, published.stderr).toBe(0);
    expect(published.stdout).toMatch(/^Published network\/aws 1\.0\.0 to infra; snapshot \S+\n$/);

    const headers = { authorization: `Bearer ${server.token}` };
    const versions = await fetch(`${server.url}/-/terraform/modules/v1/infra/network/aws/versions`, { headers });
    expect(await versions.json()).toEqual({ modules: [{ versions: [{ version: '1.0.0' }] }] });
    const download = await fetch(`${server.url}/-/terraform/modules/v1/infra/network/aws/1.0.0/download`, { headers });
    expect(download.status).toBe(204);
    // As Terraform fetches it: the signed location, no token.
    const archive = await fetch(new URL(download.headers.get('x-terraform-get')!, download.url));
    expect(archive.status).toBe(200);
    const tgz = join(work, 'network.tar.gz');
    await writeFile(tgz, new Uint8Array(await archive.arrayBuffer()));
    const unpacked = join(work, 'network-unpacked');
    await mkdir(unpacked);
    await runOk('tar', ['-xzf', tgz, '-C', unpacked]);
    expect(await tree(unpacked)).toEqual({
      'alias.tf': { text: 'variable "cidr" {}\n', exec: false },
      'main.tf': { text: 'variable "cidr" {}\n', exec: false },
      'modules/subnet/main.tf': { text: 'output "id" { value = 1 }\n', exec: false },
      'scripts/setup.sh': { text: '#!/bin/sh\necho hi\n', exec: true },
    });
    const listing = (await runOk('tar', ['-tvzf', tgz])).stdout;
    for (const line of listing.trim().split('\n')) expect(line).toMatch(/^\S+ 0\/0 .* 1970-01-01 00:00 /);

    // Deterministic: the same files packed again (their times changed) are the same archive, so nothing changes.
    await utimes(join(dir, 'main.tf'), new Date(), new Date());
    const again = await cli([...args, '--json'], auth);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ changed: false, packages: [{ package: 'network/aws', version: '1.0.0', architecture: 'module' }] });
    // Other content under the same version is a conflict, unless --replace.
    await writeFile(join(dir, 'main.tf'), 'variable "cidr" { default = "10.0.0.0/16" }\n');
    const conflict = await cli(args, auth);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/\(409 /);
    expect((await cli([...args, '--replace'], auth)).code).toBe(0);

    const ls = await cli(['ls', '--url', server.url, '--repo', 'infra'], auth);
    expect(ls.stdout).toBe('modules\tnetwork/aws\t1.0.0\tmodule\n');
    const removed = await cli(['module', 'rm', '--url', server.url, '--repo', 'infra', '--name', 'network', '--system', 'aws', '--version', '1.0.0'], auth);
    expect(removed.stdout).toMatch(/^Removed network\/aws 1\.0\.0 from infra; snapshot \S+\n$/);
    expect((await fetch(`${server.url}/-/terraform/modules/v1/infra/network/aws/versions`, { headers })).status).toBe(404);
    expect((await cli(['module', 'rm', '--url', server.url, '--repo', 'infra', '--name', 'network', '--system', 'aws', '--version', '1.0.0'], auth)).stderr).toMatch(/\(404 /);
  });

  it('publishes an archive as it is, a provider zip, and a mirrored provider zip, into a data directory', async () => {
    const data = join(work, 'data');
    expect((await cli(['repo', 'create', 'infra', '--type', 'terraform', '--data', data])).code).toBe(0);
    const src = join(work, 'dns');
    await write(src, { 'main.tf': 'variable "zone" {}\n' });
    const zip = join(work, 'dns.zip');
    await runOk('sh', ['-c', `cd '${src}' && zip -qr '${zip}' .`]);
    const mod = await cli(['module', 'publish', zip, '--data', data, '--repo', 'infra', '--name', 'dns', '--system', 'google', '--version', '0.3.0', '--json']);
    expect(mod.code, mod.stderr).toBe(0);
    expect(JSON.parse(mod.stdout)).toMatchObject({ changed: true, packages: [{ package: 'dns/google', filename: 'modules/dns/google/0.3.0.zip' }] });

    const provider = await cli(['provider', 'publish', providerZip, '--data', data, '--repo', 'infra', '--type', 'widget', '--version', '1.2.0', '--os', 'linux', '--arch', 'amd64', '--protocols', '5.0,6.0']);
    expect(provider.code, provider.stderr).toBe(0);
    expect(provider.stdout).toMatch(/^Published terraform-provider-widget 1\.2\.0 linux_amd64 to infra; snapshot \S+\n$/);
    const mirror = await cli(['mirror', 'publish', providerZip, '--data', data, '--repo', 'infra', '--provider', 'registry.terraform.io/hashicorp/widget', '--version', '1.2.0', '--os', 'linux', '--arch', 'amd64']);
    expect(mirror.code, mirror.stderr).toBe(0);
    expect(mirror.stdout).toMatch(/^Published registry\.terraform\.io\/hashicorp\/widget 1\.2\.0 linux_amd64 to infra; snapshot \S+\n$/);

    const ls = await cli(['ls', '--data', data, '--repo', 'infra']);
    expect(ls.stdout.trim().split('\n').sort()).toEqual(['mirror\tregistry.terraform.io/hashicorp/widget\t1.2.0\tlinux_amd64', 'modules\tdns/google\t0.3.0\tmodule', 'providers\twidget\t1.2.0\tlinux_amd64']);
    const listed = JSON.parse((await cli(['ls', '--data', data, '--repo', 'infra', '--distribution', 'providers', '--json'])).stdout);
    expect(listed).toMatchObject([{ package: 'widget', version: '1.2.0', architecture: 'linux_amd64', distribution: 'providers' }]);

    // The export is a static network mirror: index.json, <version>.json naming the zip beside it.
    const out = join(work, 'export');
    const exported = await cli(['export', '--data', data, '--repo', 'infra', out]);
    expect(exported.code, exported.stderr).toBe(0);
    const base = join(out, 'mirror/registry.terraform.io/hashicorp/widget');
    expect(JSON.parse(await readFile(join(base, 'index.json'), 'utf8'))).toEqual({ versions: { '1.2.0': {} } });
    const version = JSON.parse(await readFile(join(base, '1.2.0.json'), 'utf8')) as { archives: Record<string, { url: string; hashes: string[] }> };
    const archive = version.archives.linux_amd64!;
    expect(archive.url).not.toMatch(/[/:?]/);
    const bytes = await readFile(join(base, archive.url));
    expect(bytes).toEqual(await readFile(providerZip));
    expect(archive.hashes).toContain(`zh:${createHash('sha256').update(bytes).digest('hex')}`);
  });

  it('reports missing flags, paths that are not there, links out of the directory and a bad --provider', async () => {
    const data = join(work, 'data-errors');
    expect((await cli(['repo', 'create', 'infra', '--type', 'terraform', '--data', data])).code).toBe(0);
    const dir = join(work, 'escaping');
    await write(dir, { 'main.tf': 'variable "x" {}\n', '../outside.tf': 'secret\n' });
    const base = ['--data', data, '--repo', 'infra', '--version', '1.0.0'];

    const noSystem = await cli(['module', 'publish', dir, ...base, '--name', 'x']);
    expect(noSystem.code).toBe(1);
    expect(noSystem.stderr).toMatch(/required option '--system <system>' not specified/);
    const noVersion = await cli(['provider', 'publish', providerZip, '--data', data, '--repo', 'infra', '--type', 'widget', '--os', 'linux', '--arch', 'amd64']);
    expect(noVersion.code).toBe(1);
    expect(noVersion.stderr).toMatch(/required option '--version <version>' not specified/);

    const missing = await cli(['module', 'publish', join(work, 'nowhere'), ...base, '--name', 'x', '--system', 'aws']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nowhere: no such file or directory/);
    const notArchive = join(work, 'notes.txt');
    await writeFile(notArchive, 'hello');
    const wrongKind = await cli(['module', 'publish', notArchive, ...base, '--name', 'x', '--system', 'aws']);
    expect(wrongKind.code).toBe(1);
    expect(wrongKind.stderr).toMatch(/notes\.txt: expected a directory or a \.tar\.gz, \.tgz or \.zip archive/);

    await symlink('../outside.tf', join(dir, 'outside.tf'));
    const escaping = await cli(['module', 'publish', dir, ...base, '--name', 'x', '--system', 'aws']);
    expect(escaping.code).toBe(1);
    expect(escaping.stderr).toMatch(/outside\.tf: a symbolic link to .*outside\.tf, outside .*escaping/);
    const abs = join(work, 'absolute');
    await write(abs, { 'main.tf': '\n' });
    await symlink('/etc/hostname', join(abs, 'host'));
    expect((await cli(['module', 'publish', abs, ...base, '--name', 'x', '--system', 'aws'])).stderr).toMatch(/host: a symbolic link to \/etc\/hostname, outside/);
    // Nothing was published by any of these.
    expect((await cli(['ls', '--data', data, '--repo', 'infra'])).stdout).toBe('');

    const badProvider = await cli(['mirror', 'publish', providerZip, ...base, '--provider', 'hashicorp/widget', '--os', 'linux', '--arch', 'amd64']);
    expect(badProvider.code).toBe(1);
    expect(badProvider.stderr).toMatch(/--provider must be HOSTNAME\/NAMESPACE\/TYPE/);
    // A bad version is the server's to refuse, with its code.
    const badVersion = await cli(['provider', 'publish', providerZip, '--data', data, '--repo', 'infra', '--type', 'widget', '--version', 'v1', '--os', 'linux', '--arch', 'amd64']);
    expect(badVersion.code).toBe(1);
    expect(badVersion.stderr).toMatch(/\(422 invalid-version\)/);

    const distribution = await cli(['repo', 'create', 'other', '--type', 'terraform', '--distribution', 'stable', '--data', data]);
    expect(distribution.code).toBe(1);
    expect(distribution.stderr).toMatch(/distributions\.stable: a Terraform repository has no distributions \(400 /);
  });
});
