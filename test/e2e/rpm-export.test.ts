// `packyard export` of an RPM repository: the tree a plain static web server (or the file system)
// serves is one dnf installs from with repo_gpgcheck=1, through the `.repo` file the export
// writes, as it does from the server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRpm, type BuiltRpm } from '../helpers/rpms.js';
import { repoRoot, run, runOk } from '../helpers/exec.js';
import { serveStatic, type StaticServer } from '../helpers/static-server.js';

const cli = (args: string[]) => runOk('node', [join(repoRoot, 'bin/packyard.mjs'), ...args], { timeoutMs: 120_000 });

describe('an exported RPM repository', () => {
  let work: string;
  let data: string;
  let rpms: BuiltRpm[];
  let web: StaticServer;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'packyard-rpm-export-'));
    data = join(work, 'data');
    rpms = await Promise.all([
      buildRpm({ name: 'acme-lib', version: '1.0', release: '1', provides: ['acme-lib-api = 1.0'], files: { '/usr/share/acme-lib/lib.txt': 'lib' } }, join(work, 'rpms')),
      buildRpm({ name: 'acme-tool', version: '2.0', release: '1', epoch: 1, arch: 'x86_64', requires: ['acme-lib-api >= 1.0'], files: { '/usr/share/acme-tool/tool.txt': 'tool' } }, join(work, 'rpms')),
    ]);
    await cli(['add', '--create', '--data', data, '--repo', 'yum', '--distribution', 'el9', ...rpms.map((r) => r.path)]);
    web = await serveStatic(work);
  }, 300_000);

  afterAll(async () => {
    await web?.close();
    await run('pkill', ['-f', `gpg-agent --homedir ${work}/`]);
  });

  const dnf = (root: string, repos: string, args: string[]) =>
    run('dnf', ['-y', '-q', `--installroot=${root}`, '--releasever=12', `--setopt=reposdir=${repos}`, `--setopt=cachedir=${join(root, 'cache')}`, '--setopt=skip_if_unavailable=0', ...args], { timeoutMs: 300_000 });

  /** Exports to `out`, installs acme-tool (and the noarch library it requires) with the exported .repo file as it is. */
  async function installFrom(out: string, baseUrl?: string) {
    await cli(['export', '--data', data, '--repo', 'yum', ...(baseUrl ? ['--base-url', baseUrl] : []), out]);
    const repoFile = await readFile(join(out, 'el9.repo'), 'utf8');
    expect(repoFile).toMatch(/^repo_gpgcheck=1$/m);
    // Packages lie where repodata says: below each architecture folder, noarch ones in each.
    expect((await stat(join(out, 'el9/x86_64/Packages/a/acme-tool-2.0-1.x86_64.rpm'))).size).toBe(rpms[1]!.size);
    expect((await stat(join(out, 'el9/x86_64/Packages/a/acme-lib-1.0-1.noarch.rpm'))).size).toBe(rpms[0]!.size);
    const repos = join(out, '..', `${out.split('/').pop()}-repos.d`);
    await mkdir(repos, { recursive: true });
    await writeFile(join(repos, 'yum-el9.repo'), repoFile);
    const root = join(out, '..', `${out.split('/').pop()}-root`);
    const install = await dnf(root, repos, ['install', 'acme-tool']);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    const installed = await run('rpm', ['--root', root, '-q', 'acme-tool', 'acme-lib']);
    expect(installed.code, installed.stdout + installed.stderr).toBe(0);
    expect(installed.stdout).toContain('acme-tool-2.0-1.x86_64');
    return repoFile;
  }

  it('installs with dnf from a plain static web server, by the .repo file it carries', async () => {
    const repoFile = await installFrom(join(work, 'tree'), `${web.url}/tree`);
    expect(repoFile).toContain(`baseurl=${web.url}/tree/el9/$basearch`);
    expect(repoFile).toContain(`gpgkey=${web.url}/tree/public.key`);
    // dnf read the signed repomd.xml and fetched the package from the static server.
    expect(web.requests.some((r) => r.path === '/tree/el9/x86_64/repodata/repomd.xml.asc' && r.status === 200)).toBe(true);
    expect(web.requests.some((r) => r.path === '/tree/el9/x86_64/Packages/a/acme-tool-2.0-1.x86_64.rpm' && r.status === 200)).toBe(true);
  });

  it('installs with dnf straight from the directory (a file:// .repo by default)', async () => {
    const repoFile = await installFrom(join(work, 'local'));
    expect(repoFile).toContain(`baseurl=file://${join(work, 'local')}/el9/$basearch`);
  });

  it('refuses a --base-url that is not a URL, with a clear message', async () => {
    const r = await run('node', [join(repoRoot, 'bin/packyard.mjs'), 'export', '--data', data, '--repo', 'yum', '--base-url', 'somewhere', join(work, 'bad')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--base-url must be an http:\/\/, https:\/\/ or file:\/\/ URL/);
  });
});
