// RPM repositories end to end, on the Node host and on the Worker host: RPMs built with rpmbuild
// are uploaded; real dnf, with repo_gpgcheck=1 and the served .repo file, resolves dependencies
// among them and installs them into an --installroot; dnf repoquery answers as it does for a
// repository that createrepo_c made of the same files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { buildRpm, type BuiltRpm } from '../helpers/rpms.js';
import { run, runOk } from '../helpers/exec.js';
import { startServer } from '../helpers/server.js';
import { startWorker } from '../helpers/worker.js';

interface Host {
  url: string;
  token: string;
  stop(): Promise<unknown>;
}

const DAY = 86400;

describe.each([
  ['Node host', (): Promise<Host> => startServer()],
  ['Worker host', (): Promise<Host> => startWorker()],
])('RPM repositories on the %s', (_, start) => {
  let host: Host;
  let work: string;
  let rpms: BuiltRpm[];
  let readToken: string;
  const admin = () => ({ authorization: `Bearer ${host.token}` });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'packyard-rpm-'));
    const out = join(work, 'rpms');
    rpms = await Promise.all([
      buildRpm({ name: 'acme-lib', version: '1.0', release: '1', provides: ['acme-lib-api = 1.0'], files: { '/usr/share/acme-lib/lib.txt': 'lib' }, changelog: [{ date: 1_700_000_000, author: 'Ann <ann@example.com> - 1.0-1', text: '- first release' }] }, out),
      buildRpm({ name: 'acme-data', version: '1.0', release: '1', files: { '/usr/share/acme-data/marker': 'data' }, dirs: ['/usr/share/acme-data'] }, out),
      buildRpm({ name: 'acme-extra', version: '1.0', release: '1', files: { '/usr/share/acme-extra/extra.txt': 'extra' } }, out),
      buildRpm(
        {
          name: 'acme-tool',
          version: '1.2~rc1',
          release: '1',
          epoch: 2,
          arch: 'x86_64',
          requires: ['acme-lib-api >= 1.0', '/usr/share/acme-data/marker'],
          recommends: ['acme-extra'],
          files: { '/usr/share/acme-tool/tool.txt': 'tool' },
          changelog: [
            { date: 1_700_000_000 + 2 * DAY, author: 'Bo <bo@example.com> - 2:1.2~rc1-1', text: '- release candidate' },
            { date: 1_700_000_000 + DAY, author: 'Bo <bo@example.com> - 2:1.1-1', text: '- earlier' },
          ],
        },
        out,
      ),
    ]);
    host = await start();
    const created = await fetch(`${host.url}/api/v1/repos`, { method: 'POST', headers: { ...admin(), 'content-type': 'application/json' }, body: JSON.stringify({ name: 'yum', type: 'rpm', distributions: { el9: {} } }) });
    expect(created.status, await created.clone().text()).toBe(201);
    const token = await fetch(`${host.url}/api/v1/tokens`, { method: 'POST', headers: { ...admin(), 'content-type': 'application/json' }, body: JSON.stringify({ name: 'dnf', repos: { yum: ['read'] } }) });
    readToken = ((await token.json()) as { token: string }).token;
  }, 300_000);

  afterAll(async () => {
    await host?.stop();
    // dnf's key import starts a gpg-agent per installroot that outlives it.
    await run('pkill', ['-f', `gpg-agent --homedir ${work}/`]);
  });

  /** dnf confined to `root` and the repositories in `repos` (a reposdir). */
  const dnf = (root: string, repos: string, args: string[]) =>
    run('dnf', ['-y', '-q', `--installroot=${root}`, '--releasever=12', `--setopt=reposdir=${repos}`, `--setopt=cachedir=${join(root, 'cache')}`, '--setopt=skip_if_unavailable=0', ...args], { timeoutMs: 300_000 });

  it('publishes uploaded RPMs that dnf installs with repo_gpgcheck, resolving their dependencies', async () => {
    const form = new FormData();
    for (const rpm of rpms) form.append('file', new Blob([await readFile(rpm.path)]), basename(rpm.path));
    const up = await fetch(`${host.url}/api/v1/repos/yum/packages?distribution=el9`, { method: 'POST', headers: admin(), body: form });
    expect(up.status, await up.clone().text()).toBe(201);
    const { packages } = (await up.json()) as { packages: { package: string; version: string; architecture: string }[] };
    expect(packages.find((p) => p.package === 'acme-tool')).toMatchObject({ version: '2:1.2~rc1-1', architecture: 'x86_64' });

    // Private, like every repository: the .repo file needs the token too, and says where it goes.
    expect((await fetch(`${host.url}/yum/el9.repo`)).status).toBe(401);
    const repoFile = await (await fetch(`${host.url}/yum/el9.repo`, { headers: { authorization: `Bearer ${readToken}` } })).text();
    expect(repoFile).toContain(`baseurl=${host.url}/yum/el9/$basearch`);
    expect(repoFile).toMatch(/^repo_gpgcheck=1$/m);
    const repos = join(work, 'repos.d');
    await mkdir(repos, { recursive: true });
    await writeFile(join(repos, 'yum-el9.repo'), repoFile.replace('password=<token>', `password=${readToken}`));

    const root = join(work, 'root');
    const install = await dnf(root, repos, ['install', 'acme-tool']);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    const installed = await run('rpm', ['--root', root, '-q', 'acme-tool', 'acme-lib', 'acme-data', 'acme-extra']);
    expect(installed.code, installed.stdout + installed.stderr).toBe(0);
    expect(installed.stdout).toContain('acme-tool-1.2~rc1-1.x86_64');

    // repo_gpgcheck is on: without the key that signed repomd.xml, dnf refuses the repository.
    const bad = await dnf(join(work, 'root-bad'), repos, ['--setopt=yum-el9.gpgkey=file:///dev/null', 'makecache']);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout + bad.stderr).toMatch(/repomd\.xml GPG signature verification error/);
  });

  it('answers dnf repoquery as a createrepo_c repository of the same files does', async () => {
    const local = join(work, 'createrepo');
    await mkdir(local, { recursive: true });
    for (const rpm of rpms) await copyFile(rpm.path, join(local, basename(rpm.path)));
    await runOk('createrepo_c', ['--no-database', local]);
    const repos = join(work, 'repos-query');
    await mkdir(repos, { recursive: true });
    await writeFile(
      join(repos, 'q.repo'),
      [
        `[served]\nbaseurl=${host.url}/yum/el9/x86_64\nusername=dnf\npassword=${readToken}\nrepo_gpgcheck=0\ngpgcheck=0\n`,
        `[reference]\nbaseurl=file://${local}\nrepo_gpgcheck=0\ngpgcheck=0\n`,
      ].join('\n'),
    );
    const root = join(work, 'root-query');
    const queries = [
      ['--qf', '%{name} %{epoch} %{version} %{release} %{arch} %{summary} %{sourcerpm}'],
      ['--provides'],
      ['--requires'],
      ['--recommends'],
      ['-l'],
      ['--changelogs'],
      ['--whatprovides', '/usr/share/acme-data/marker'],
    ];
    for (const query of queries) {
      const answers = [];
      for (const repo of ['served', 'reference']) {
        const r = await dnf(root, repos, ['repoquery', `--repo=${repo}`, ...query, 'acme-*']);
        expect(r.code, r.stderr).toBe(0);
        answers.push(r.stdout.split('\n').sort().join('\n'));
      }
      expect(answers[0], query.join(' ')).toBe(answers[1]);
      expect(answers[0]!.length, query.join(' ')).toBeGreaterThan(0);
    }
  });
});
