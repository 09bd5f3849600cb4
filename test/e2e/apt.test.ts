// The whole path as users take it: upload real and generated packages to a running
// `packyard serve`, then `apt-get install` them in a Debian chroot whose only source is
// Packyard, with signature checking on; gpgv and apt-ftparchive as referees.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, writeFile, copyFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, basename } from 'node:path';
import { aptInstall, aptUpdate, chrootRun, configureApt, freshChroot, isInstalled, type Chroot } from '../helpers/chroot.js';
import { buildDeb, fetchRealDebs, type DebFile } from '../helpers/debs.js';
import { api, aptLine, startServer, type RunningServer } from '../helpers/server.js';
import { run, runOk } from '../helpers/exec.js';

let server: RunningServer;
let chroot: Chroot;
let work: string;
let real: Awaited<ReturnType<typeof fetchRealDebs>>;
let generated: DebFile[];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'packyard-e2e-'));
  [real, chroot, server] = await Promise.all([fetchRealDebs(), freshChroot(), startServer()]);
  const gen = join(work, 'gen');
  generated = [
    await buildDeb({ name: 'acme-lib', version: '1.2.3-1', arch: 'all', compression: 'zstd', description: 'ACME shared data\nUsed by acme-app.\n\nSecond paragraph: UTF-8 — naïve café.', maintainer: 'Zoë Example <zoe@example.invalid>', files: { 'usr/share/acme/lib.txt': 'lib' } }, gen),
    await buildDeb({ name: 'acme-app', version: '2.0~rc1-1', arch: 'amd64', compression: 'xz', depends: 'acme-lib (>= 1.2)', fields: { Section: 'utils', Priority: 'optional', 'X-Custom-Field': 'kept verbatim' }, files: { 'usr/share/acme/app.txt': 'app' } }, gen),
    await buildDeb({ name: 'acme-gz', version: '1:0.1', arch: 'amd64', compression: 'gzip', files: { 'usr/share/acme/gz.txt': 'gz' } }, gen),
    await buildDeb({ name: 'acme-plain', version: '0.1+git20260101', arch: 'amd64', compression: 'none', files: { 'usr/share/acme/plain.txt': 'plain' } }, gen),
  ];
}, 600_000);

afterAll(async () => {
  await server?.stop();
  await chroot?.dispose();
});

const allFiles = () => [real['vim-common'].path, real['vim-tiny'].path, real.xxd.path, ...generated.map((g) => g.path)];

describe('APT end to end (Node host, local storage)', () => {
  it('installs uploaded packages with apt-get in a chroot, signature checking on, resolving dependencies among them', async () => {
    const client = api(server.url, server.token);
    await client.createRepo('acme');
    await client.upload('acme', 'stable', 'main', allFiles());
    await configureApt(chroot.root, { sourcesLine: aptLine(server.url, 'acme', 'stable', 'main'), keyringBytes: await client.publicKey('acme') });
    const update = await aptUpdate(chroot.root);
    expect(update.code, update.stdout + update.stderr).toBe(0);
    expect(update.stdout + update.stderr).not.toMatch(/NO_PUBKEY|not signed|Hash Sum mismatch/);
    const install = await aptInstall(chroot.root, ['vim-tiny', 'xxd', 'acme-app', 'acme-gz', 'acme-plain']);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    for (const pkg of ['vim-tiny', 'vim-common', 'xxd', 'acme-app', 'acme-lib', 'acme-gz', 'acme-plain']) expect(await isInstalled(chroot.root, pkg), pkg).toBe(true);
    const vim = await chrootRun(chroot.root, ['vim.tiny', '--version']);
    expect(vim.stdout).toMatch(/VIM - Vi IMproved/);
  });

  it('lets gpgv verify InRelease and Release.gpg with the served public key', async () => {
    const keyring = join(work, 'acme.gpg');
    await writeFile(keyring, await api(server.url).publicKey('acme'));
    for (const name of ['InRelease', 'Release', 'Release.gpg']) await writeFile(join(work, name), new Uint8Array(await (await fetch(`${server.url}/acme/dists/stable/${name}`)).arrayBuffer()));
    const clear = await run('gpgv', ['--keyring', keyring, join(work, 'InRelease')]);
    expect(clear.code, clear.stderr).toBe(0);
    const detached = await run('gpgv', ['--keyring', keyring, join(work, 'Release.gpg'), join(work, 'Release')]);
    expect(detached.code, detached.stderr).toBe(0);
    // And a tampered Release must not verify.
    await writeFile(join(work, 'Release'), (await readFile(join(work, 'Release'), 'utf8')).replace('Suite: stable', 'Suite: stablx'));
    expect((await run('gpgv', ['--keyring', keyring, join(work, 'Release.gpg'), join(work, 'Release')])).code).not.toBe(0);
  });

  it('writes each control paragraph verbatim, with sizes and digests equal to apt-ftparchive', async () => {
    const packages = await (await fetch(`${server.url}/acme/dists/stable/main/binary-amd64/Packages`)).text();
    const stanzas = new Map(packages.trim().split('\n\n').map((s) => [/^Package: (.+)$/m.exec(s)![1]!, s]));
    const pool = join(work, 'pool');
    await mkdir(pool, { recursive: true });
    for (const file of allFiles()) {
      const control = (await runOk('sh', ['-c', `dpkg-deb --ctrl-tarfile "$1" | tar -xO ./control`, 'sh', file])).stdout.replace(/\n$/, '');
      const name = /^Package: (.+)$/m.exec(control)![1]!;
      const stanza = stanzas.get(name);
      expect(stanza, name).toBeDefined();
      expect(stanza!.startsWith(control + '\n'), `${name}: control paragraph verbatim`).toBe(true);
      await copyFile(file, join(pool, basename(file)));
    }
    const reference = (await runOk('apt-ftparchive', ['packages', '.'], { cwd: work })).stdout;
    for (const ref of reference.trim().split('\n\n')) {
      const name = /^Package: (.+)$/m.exec(ref)![1]!;
      for (const field of ['Size', 'MD5sum', 'SHA1', 'SHA256', 'SHA512']) {
        const want = new RegExp(`^${field}: (.+)$`, 'm').exec(ref)![1];
        const got = new RegExp(`^${field}: (.+)$`, 'm').exec(stanzas.get(name)!)?.[1];
        expect(got, `${name} ${field}`).toBe(want);
      }
    }
  });
});
