// The CLI as users run it: `node bin/packyard.mjs ...` as a child process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { buildDeb, type DebFile } from '../helpers/debs.js';
import { startServer, type RunningServer, aptLine } from '../helpers/server.js';
import { aptRoot } from '../helpers/chroot.js';
import { serveStatic } from '../helpers/static-server.js';
import { makeTestKey } from '../helpers/gpg.js';
import { repoRoot, run, runOk } from '../helpers/exec.js';

const cli = (args: string[], env: Record<string, string> = {}) => run('node', [join(repoRoot, 'bin/packyard.mjs'), ...args], { env, timeoutMs: 120_000 });

let work: string;
let debs: DebFile[];
let server: RunningServer;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'packyard-cli-'));
  server = await startServer(); // also builds dist/ for the CLI
  debs = [
    await buildDeb({ name: 'alpha', version: '1.0', arch: 'amd64' }, join(work, 'debs')),
    await buildDeb({ name: 'beta', version: '2.0', arch: 'all', depends: 'alpha' }, join(work, 'debs')),
  ];
});

afterAll(async () => {
  await server?.stop();
});

describe('packyard CLI', () => {
  it('has --help on every command', async () => {
    const commands = [[], ['serve'], ['add'], ['upload'], ['repo'], ['repo', 'create'], ['repo', 'list'], ['repo', 'show'], ['repo', 'update'], ['repo', 'delete'], ['ls'], ['rm'], ['snapshots'], ['key'], ['key', 'generate'], ['key', 'import'], ['key', 'export'], ['key', 'list'], ['key', 'remove'], ['fsck'], ['gc'], ['export'], ['token'], ['token', 'create'], ['token', 'list'], ['token', 'revoke'], ['oidc'], ['oidc', 'add'], ['oidc', 'list'], ['oidc', 'remove'], ['sync'], ['check'], ['module'], ['module', 'publish'], ['module', 'rm'], ['provider'], ['provider', 'publish'], ['mirror'], ['mirror', 'publish'], ['migrate']];
    // Four processes at a time: one after another, forty starts took most of a minute.
    for (let i = 0; i < commands.length; i += 4) {
      const batch = commands.slice(i, i + 4);
      const results = await Promise.all(batch.map((command) => cli([...command, '--help'])));
      for (const [j, r] of results.entries()) {
        expect(r.code, batch[j]!.join(' ')).toBe(0);
        expect(r.stdout, batch[j]!.join(' ')).toMatch(/^Usage: packyard/);
      }
    }
  });

  it('adds into a data directory, lists, removes, and reports problems with a non-zero exit', async () => {
    const data = join(work, 'data-add');
    const added = await cli(['add', '--create', '--data', data, '--repo', 'acme', '--distribution', 'stable', '--json', ...debs.map((d) => d.path)]);
    expect(added.code, added.stderr).toBe(0);
    expect(JSON.parse(added.stdout).packages.map((p: { package: string }) => p.package).sort()).toEqual(['alpha', 'beta']);
    const listed = JSON.parse((await cli(['ls', '--data', data, '--repo', 'acme', '--json'])).stdout);
    expect(listed.map((p: { package: string }) => p.package).sort()).toEqual(['alpha', 'beta']);
    const repos = JSON.parse((await cli(['repo', 'list', '--data', data, '--json'])).stdout);
    expect(repos.map((r: { name: string }) => r.name)).toEqual(['acme']);

    const removed = await cli(['rm', '--data', data, '--repo', 'acme', '--distribution', 'stable', 'alpha', '1.0', 'amd64']);
    expect(removed.code, removed.stderr).toBe(0);
    const again = await cli(['rm', '--data', data, '--repo', 'acme', '--distribution', 'stable', 'alpha', '1.0', 'amd64']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^packyard: alpha 1\.0 \(amd64\) is not in acme\/stable \(404 package-not-found\)/);
    const history = JSON.parse((await cli(['snapshots', '--data', data, '--repo', 'acme', '--json'])).stdout);
    expect(history.map((s: { changes: { action: string }[] }) => s.changes[0]!.action)).toEqual(['remove', 'add', 'create']);

    const missing = await cli(['add', '--data', data, '--repo', 'acme', '--distribution', 'stable', join(work, 'nope.deb')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope\.deb: no such file/);
    const bad = join(work, 'bad.deb');
    await writeFile(bad, 'hello');
    const rejected = await cli(['add', '--data', data, '--repo', 'acme', '--distribution', 'stable', bad]);
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toMatch(/bad\.deb: .*\(422 /);
    const noUrl = await cli(['upload', '--repo', 'acme', '--distribution', 'stable', bad]);
    expect(noUrl.code).toBe(1);
    expect(noUrl.stderr).toMatch(/--url/);

    const fsck = await cli(['fsck', '--data', data, '--json']);
    expect(fsck.code, fsck.stderr).toBe(0);
    expect(JSON.parse(fsck.stdout)[0].problems).toEqual([]);
    const gc = await cli(['gc', '--data', data, '--dry-run', '--grace', '0s', '--generations', '0', '--json']);
    expect(gc.code, gc.stderr).toBe(0);
    expect(JSON.parse(gc.stdout)[0].deleted.objects).toBeGreaterThan(0);
    // A real gc refuses a grace period shorter than a publish in flight may rely on objects.
    const hasty = await cli(['gc', '--data', data, '--grace', '0s']);
    expect(hasty.code).toBe(1);
    expect(hasty.stderr).toMatch(/grace period must be at least 10m/);
    const garbled = await cli(['fsck', '--data', data, '--generations', 'two']);
    expect(garbled.code).toBe(1);
    expect(garbled.stderr).toMatch(/invalid --generations "two"/);
    const timeouts = await cli(['serve', '--data', data, '--port', '0', '--request-timeout', '5']);
    expect(timeouts.code).toBe(1);
    expect(timeouts.stderr).toMatch(/--request-timeout 5 is shorter than --header-timeout 20/);
  });

  it('adds into an existing repository only, unless --create is given', async () => {
    const data = join(work, 'data-create');
    const refused = await cli(['add', '--data', data, '--repo', 'acme', '--distribution', 'stable', debs[0]!.path]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^packyard: repository "acme" does not exist in .*: add --create, or create it first/);
    expect(await readdir(join(data, 'repos')).catch(() => [])).toEqual([]);
    await writeFile(join(work, 'other.rpm'), 'not looked at');
    const mixed = await cli(['add', '--create', '--data', data, '--repo', 'acme', '--distribution', 'stable', debs[0]!.path, join(work, 'other.rpm')]);
    expect(mixed.code).toBe(1);
    expect(mixed.stderr).toMatch(/cannot tell the type of repository "acme" from these files/);
    const created = await cli(['add', '--create', '--data', data, '--repo', 'acme', '--distribution', 'stable', '--json', debs[0]!.path]);
    expect(created.code).toBe(0);
    expect(JSON.parse((await cli(['repo', 'show', '--data', data, 'acme', '--json'])).stdout).type).toBe('deb');
    const settingsAlone = await cli(['add', '--data', data, '--repo', 'acme', '--distribution', 'stable', '--public', debs[0]!.path]);
    expect(settingsAlone.code).toBe(1);
    expect(settingsAlone.stderr).toMatch(/--architectures and --public set up a repository --create makes/);
    const withSettings = await cli(['add', '--create', '--architectures', 'arm64', '--public', '--data', data, '--repo', 'acme2', '--distribution', 'stable', debs[0]!.path]);
    expect(withSettings.code, withSettings.stderr).toBe(0);
    expect(JSON.parse((await cli(['repo', 'show', '--data', data, 'acme2', '--json'])).stdout)).toMatchObject({ type: 'deb', public: true, architectures: ['arm64'] });
  });

  it('adds a batch on worker threads (16 small files or more) all or nothing', async () => {
    const data = join(work, 'data-batch');
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => buildDeb({ name: `many${i}`, version: '1.0', arch: 'amd64' }, join(work, 'many'))));
    const bad = join(work, 'many', 'zz-bad.deb');
    await writeFile(bad, '!<arch>\nnot really');
    const failed = await cli(['add', '--create', '--data', data, '--repo', 'acme', '--distribution', 'stable', ...many.map((d) => d.path), bad]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/zz-bad\.deb: .*\(4\d\d /);
    expect(JSON.parse((await cli(['ls', '--data', data, '--repo', 'acme', '--json'])).stdout)).toEqual([]);
    const blobs = await readdir(join(data, 'repos/acme/blobs'), { recursive: true, withFileTypes: true }).catch(() => []);
    expect(blobs.filter((entry) => entry.isFile())).toEqual([]);

    const added = await cli(['add', '--data', data, '--repo', 'acme', '--distribution', 'stable', '--json', ...many.map((d) => d.path)]);
    expect(added.code, added.stderr).toBe(0);
    const listed = JSON.parse((await cli(['ls', '--data', data, '--repo', 'acme', '--json'])).stdout);
    expect(listed.map((p: { package: string }) => p.package).sort()).toEqual(many.map((d) => d.name).sort());
    const fsck = await cli(['fsck', '--data', data, '--json']);
    expect(JSON.parse(fsck.stdout)[0].problems).toEqual([]);
  });

  it('reads a JSON config file, with flags and environment taking precedence', async () => {
    const config = join(work, 'packyard.json');
    await writeFile(config, JSON.stringify({ data: join(work, 'data-config') }));
    expect((await cli(['repo', 'create', 'fromfile', '--config', config])).code).toBe(0);
    const listed = JSON.parse((await cli(['repo', 'list', '--json'], { PACKYARD_CONFIG: config })).stdout);
    expect(listed.map((r: { name: string }) => r.name)).toEqual(['fromfile']);
    const overridden = JSON.parse((await cli(['repo', 'list', '--json', '--config', config], { PACKYARD_DATA: join(work, 'data-other') })).stdout);
    expect(overridden).toEqual([]);
    await writeFile(config, '{"dat": 1}');
    const bad = await cli(['repo', 'list', '--config', config]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/Unrecognized key: "dat"/);
  });

  it('creates, lists and revokes tokens, and manages OIDC trust policies', async () => {
    const data = join(work, 'data-access');
    expect((await cli(['repo', 'create', 'acme', '--data', data])).stdout).toMatch(/Created private repository acme/);
    const created = await cli(['token', 'create', '--data', data, '--repo', 'acme', '--scope', 'read,write', '--name', 'ci', '--expires', '30d']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout.trim()).toMatch(/^pyt_[0-9a-f]{16}_[0-9a-f]{40}$/);
    const [listed] = JSON.parse((await cli(['token', 'list', '--data', data, '--json'])).stdout) as { id: string; name: string; repos: Record<string, string[]>; expiresAt: string }[];
    expect(listed).toMatchObject({ name: 'ci', repos: { acme: ['read', 'write'] } });
    expect(Date.parse(listed!.expiresAt) - Date.now()).toBeGreaterThan(29 * 86400_000);
    expect((await cli(['token', 'create', '--data', data, '--name', 'nothing'])).stderr).toMatch(/--repo, or --admin/);
    expect((await cli(['token', 'create', '--data', data, '--repo', 'acme', '--scope', 'root'])).stderr).toMatch(/invalid-request/);
    expect((await cli(['token', 'revoke', listed!.id, '--data', data])).code).toBe(0);
    expect(JSON.parse((await cli(['token', 'list', '--data', data, '--json'])).stdout)).toEqual([]);

    const added = await cli(['oidc', 'add', '--data', data, '--repo', 'acme', '--audience', 'https://pkgs.example.com', '--claim', 'repository=acme/*', '--claim', 'ref=refs/heads/main', '--json']);
    expect(added.code, added.stderr).toBe(0);
    const policy = JSON.parse(added.stdout) as { id: string; issuer: string; scopes: string[] };
    expect(policy).toMatchObject({ issuer: 'https://token.actions.githubusercontent.com', scopes: ['write'] });
    expect((await cli(['oidc', 'list', '--data', data, '--repo', 'acme'])).stdout).toContain('repository=acme/* ref=refs/heads/main → write');
    const insecure = await cli(['oidc', 'add', '--data', data, '--repo', 'acme', '--issuer', 'http://issuer.example.com', '--audience', 'x']);
    expect(insecure.code).toBe(1);
    expect(insecure.stderr).toMatch(/issuer: must be an https:\/\/ URL/);
    expect((await cli(['oidc', 'remove', policy.id, '--data', data, '--repo', 'acme'])).code).toBe(0);
    expect((await cli(['oidc', 'list', '--data', data, '--repo', 'acme', '--json'])).stdout.trim()).toBe('[]');
  });

  it('uploads to a running server as one batch', async () => {
    await cli(['repo', 'create', 'fleet', '--url', server.url, '--token', server.token, '--distribution', 'stable']);
    const up = await cli(['upload', '--url', server.url, '--repo', 'fleet', '--distribution', 'stable', '--json', ...debs.map((d) => d.path)], { PACKYARD_TOKEN: server.token });
    expect(up.code, up.stderr).toBe(0);
    expect(JSON.parse(up.stdout).changed).toBe(true);
    const denied = await cli(['upload', '--url', server.url, '--token', 'wrong', '--repo', 'fleet', '--distribution', 'stable', debs[0]!.path]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/401 invalid-credentials/);
    // Private by default: showing it needs a token too.
    expect((await cli(['repo', 'show', 'fleet', '--url', server.url])).stderr).toMatch(/401 unauthenticated/);
    const shown = JSON.parse((await cli(['repo', 'show', 'fleet', '--url', server.url, '--token', server.token, '--json'])).stdout);
    expect(shown.public).toBe(false);
    expect(shown.distributions.stable.components).toEqual(['main']);
  });

  it('sends big files as resumable uploads in parts, in the same batch as small ones', async () => {
    await cli(['repo', 'create', 'parts', '--url', server.url, '--token', server.token]);
    // 70 MiB: three parts of the server's 32 MiB.
    const payload = new Uint8Array(70 * 1024 * 1024).map((_, i) => (i * 2654435761) >>> 24);
    const big = await buildDeb({ name: 'huge', version: '1.0', arch: 'amd64', compression: 'none', files: { 'usr/share/huge/blob': payload } }, join(work, 'huge'));
    const up = await cli(['upload', '--url', server.url, '--token', server.token, '--repo', 'parts', '--distribution', 'stable', '--json', big.path, debs[0]!.path]);
    expect(up.code, up.stderr).toBe(0);
    const result = JSON.parse(up.stdout) as { packages: { package: string; sha256: string }[]; snapshot: { seq: number } };
    expect(result.packages.map((p) => p.package).sort()).toEqual(['alpha', 'huge']);
    expect(result.packages.find((p) => p.package === 'huge')!.sha256).toBe(big.sha256);
    const served = await fetch(`${server.url}/parts/pool/main/h/huge/huge_1.0_amd64.deb`, { headers: { authorization: `Bearer ${server.token}` } });
    expect(createHash('sha256').update(Buffer.from(await served.arrayBuffer())).digest('hex')).toBe(big.sha256);

    const badThreshold = await cli(['upload', '--url', server.url, '--token', server.token, '--repo', 'parts', '--distribution', 'stable', '--resumable-above', 'lots', big.path]);
    expect(badThreshold.code).toBe(1);
    expect(badThreshold.stderr).toMatch(/--resumable-above/);
  });

  it('exports a static tree that apt accepts from a plain web server', async () => {
    const data = join(work, 'data-export');
    await runOk('node', [join(repoRoot, 'bin/packyard.mjs'), 'add', '--create', '--data', data, '--repo', 'acme', '--distribution', 'stable', ...debs.map((d) => d.path)]);
    const out = join(work, 'export');
    const exported = await cli(['export', '--data', data, '--repo', 'acme', out]);
    expect(exported.code, exported.stderr).toBe(0);
    expect((await stat(join(out, 'pool/main/a/alpha/alpha_1.0_amd64.deb'))).size).toBe(debs[0]!.size);
    const web = await serveStatic(join(work));
    const apt = await aptRoot();
    try {
      await apt.configure({ sourcesLine: aptLine(web.url, 'export', 'stable', 'main'), keyringBytes: new Uint8Array(await readFile(join(out, 'public.gpg'))) });
      const update = await apt.update();
      expect(update.code, update.stdout + update.stderr).toBe(0);
      const download = await apt.aptGet(['download', 'beta']);
      expect(download.code, download.stdout + download.stderr).toBe(0);
      // apt fetched the indexes by hash, as Release asks.
      expect(web.requests.some((r) => r.path.includes('/by-hash/SHA512/') && r.status === 200)).toBe(true);
    } finally {
      await apt.dispose();
      await web.close();
    }
  });

  it('rotates keys: every key signs, and apt holding either key alone accepts the repository', async () => {
    const data = join(work, 'data-keys');
    expect((await cli(['key', 'generate', '--data', data, '--algorithm', 'rsa4096'])).code).toBe(0);
    const gpgKey = await makeTestKey('Imported <imported@packyard.invalid>');
    try {
      const armored = await runOk('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--armor', '--export-secret-keys', gpgKey.fingerprint], { env: { GNUPGHOME: gpgKey.gnupgHome } });
      const keyFile = join(work, 'imported.asc');
      await writeFile(keyFile, armored.stdout);
      const imported = await cli(['key', 'import', '--data', data, keyFile]);
      expect(imported.code, imported.stderr).toBe(0);
      const garbage = join(work, 'garbage.asc');
      await writeFile(garbage, 'not a key');
      const refused = await cli(['key', 'import', '--data', data, garbage]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/not an armored OpenPGP private key/);
      const fingerprints = JSON.parse((await cli(['key', 'list', '--data', data, '--json'])).stdout) as string[];
      expect(fingerprints).toHaveLength(2);
      expect(fingerprints).toContain(gpgKey.fingerprint);

      await runOk('node', [join(repoRoot, 'bin/packyard.mjs'), 'add', '--create', '--data', data, '--repo', 'acme', '--distribution', 'stable', debs[0]!.path]);
      const out = join(work, 'export-keys');
      await runOk('node', [join(repoRoot, 'bin/packyard.mjs'), 'export', '--data', data, '--repo', 'acme', out]);
      // apt holding only one of the keys still accepts the repository: clients with the old or
      // the new key both keep working through a rotation.
      const web = await serveStatic(work);
      const apt = await aptRoot();
      try {
        await apt.configure({ sourcesLine: aptLine(web.url, 'export-keys', 'stable', 'main'), keyringBytes: gpgKey.publicKey });
        const update = await apt.update();
        expect(update.code, update.stdout + update.stderr).toBe(0);
      } finally {
        await apt.dispose();
        await web.close();
      }
      const exportedKeys = join(work, 'all.gpg');
      expect((await cli(['key', 'export', '--data', data, '--output', exportedKeys])).code).toBe(0);
      const withAll = await run('gpgv', ['--keyring', exportedKeys, join(out, 'dists/stable/Release.gpg'), join(out, 'dists/stable/Release')]);
      expect(withAll.code, withAll.stderr).toBe(0);
      expect(withAll.stderr.match(/Good signature/g)).toHaveLength(2);
    } finally {
      await gpgKey.dispose();
    }
  });
});
