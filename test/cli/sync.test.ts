// Repositories synced from GitHub Releases through the CLI as users run it (`node
// bin/packyard.mjs`), against a real `packyard serve` and the GitHub stand-in: `repo create
// --github` with secrets named by environment variables, `repo show`, `packyard sync`, and the
// server's own periodic syncs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDeb } from '../helpers/debs.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { startGitHubStandin, type GitHubStandin } from '../helpers/github/standin.js';
import { repoRoot, run } from '../helpers/exec.js';

const cli = (args: string[], env: Record<string, string> = {}) => run('node', [join(repoRoot, 'bin/packyard.mjs'), ...args], { env, timeoutMs: 120_000 });

let work: string;
let gh: GitHubStandin;
const debs = new Map<string, Uint8Array>();

async function deb(name: string, version: string): Promise<Uint8Array> {
  const key = `${name}_${version}`;
  if (!debs.has(key)) debs.set(key, new Uint8Array(await readFile((await buildDeb({ name, version, arch: 'amd64', compression: 'none' }, join(work, key))).path)));
  return debs.get(key)!;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'packyard-cli-sync-'));
  gh = await startGitHubStandin();
});

afterAll(async () => {
  await gh?.close();
});

describe('packyard CLI with GitHub Releases', () => {
  let server: RunningServer;
  beforeAll(async () => {
    // No periodic syncs here: every sync is the CLI's.
    server = await startServer({ env: { PACKYARD_SYNC_INTERVAL: 'off' } });
  });
  afterAll(async () => {
    await server?.stop();
  });
  const remote = () => ['--url', server.url, '--token', server.token];

  it('has --help that says secrets are never taken on the command line', async () => {
    for (const command of [['sync'], ['repo', 'create'], ['repo', 'update'], ['serve']]) {
      const r = await cli([...command, '--help']);
      expect(r.code, command.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/^Usage: packyard/);
    }
    const create = (await cli(['repo', 'create', '--help'])).stdout;
    for (const flag of ['--github', '--delivery', '--component', '--prereleases', '--github-api-url', '--token-env', '--app-id', '--installation-id', '--private-key', '--webhook-secret-env']) expect(create).toContain(flag);
    const update = (await cli(['repo', 'update', '--help'])).stdout;
    for (const text of [create, update]) expect(text.replace(/\s+/g, ' ')).toContain('never taken on the command line, where ps and shell history would show them');
    expect(update).toContain('--no-github');
    expect((await cli(['serve', '--help'])).stdout).toContain('--sync-interval');
  });

  it('creates a repository from a private GitHub repository with the token from the environment, shows it, syncs it', async () => {
    gh.addRepo('acme/tools', { private: true });
    gh.addToken('ghp_cli_secret', ['acme/tools']);
    gh.addRelease('acme/tools', { tag: 'v1.0', assets: [{ name: 'tool_1.0_amd64.deb', bytes: await deb('tool', '1.0') }, { name: 'SHA256SUMS', bytes: new TextEncoder().encode('sums') }] });
    gh.addRelease('acme/tools', { tag: 'v1.1-rc1', prerelease: true, assets: [{ name: 'tool_1.1~rc1_amd64.deb', bytes: await deb('tool', '1.1~rc1') }] });
    const env = { GH_TOKEN: 'ghp_cli_secret', HOOK_SECRET: 'hook-cli-secret' };
    const created = await cli(['repo', 'create', 'tools', ...remote(), '--github', 'acme/tools', '--github-api-url', gh.apiUrl, '--token-env', 'GH_TOKEN', '--webhook-secret-env', 'HOOK_SECRET', '--delivery', 'proxy', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ name: 'tools', type: 'deb', public: false, source: { github: { repository: 'acme/tools', apiUrl: gh.apiUrl, delivery: 'proxy', distribution: 'stable', prereleases: null, token: 'set', webhookSecret: 'set' } } });
    expect(created.stdout).not.toContain('ghp_cli_secret');

    const shown = await cli(['repo', 'show', 'tools', ...remote()]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^Source: +GitHub acme/tools at ${gh.apiUrl}$`, 'm'));
    expect(shown.stdout).toMatch(/releases to stable, prereleases skipped \(deb: component main\)/);
    expect(shown.stdout).toMatch(/delivery proxy/);
    expect(shown.stdout).toMatch(/credentials: token set; webhook secret set/);

    const synced = await cli(['sync', '--repo', 'tools', ...remote()]);
    expect(synced.code, synced.stderr).toBe(0);
    expect(synced.stdout).toMatch(/^tools from acme\/tools: published snapshot \S+$/m);
    expect(synced.stdout).toMatch(/1 added, 0 changed, 0 removed, 0 unchanged, 1 skipped, 1 other assets ignored/);
    expect(synced.stdout).toMatch(/added tool 1\.0 \(amd64\) in stable, from v1\.0\/tool_1\.0_amd64\.deb/);
    expect(synced.stdout).toMatch(/skipped v1\.1-rc1: prerelease/);
    expect(synced.stdout).toMatch(/GitHub rate limit: \d+ of 5000 left \(core\)/);
    // The package is served (proxied, the token kept on the server).
    const packages = await (await fetch(`${server.url}/tools/dists/stable/main/binary-amd64/Packages`, { headers: { authorization: `Bearer ${server.token}` } })).text();
    expect(packages).toContain('Package: tool');

    const again = await cli(['sync', '--repo', 'tools', ...remote(), '--json']);
    expect(again.code, again.stderr).toBe(0);
    const reports = JSON.parse(again.stdout) as { repo: string; snapshot: string | null; unchanged: number }[];
    expect(reports).toMatchObject([{ repo: 'tools', snapshot: null, unchanged: 1 }]);
    expect((await cli(['sync', '--repo', 'tools', ...remote()])).stdout).toMatch(/^tools from acme\/tools: no change$/m);

    // Prereleases to a distribution of their own, through `repo update`; the token stays set.
    const updated = await cli(['repo', 'update', 'tools', ...remote(), '--prereleases', 'testing', '--delivery', 'redirect', '--json']);
    expect(updated.code, updated.stderr).toBe(0);
    expect(JSON.parse(updated.stdout).source.github).toMatchObject({ repository: 'acme/tools', delivery: 'redirect', prereleases: 'testing', token: 'set' });
    const withRc = JSON.parse((await cli(['sync', '--repo', 'tools', ...remote(), '--json'])).stdout) as { added: { version: string; distribution: string }[] }[];
    expect(withRc[0]!.added).toMatchObject([{ version: '1.1~rc1', distribution: 'testing' }]);
  });

  it('refuses a secret variable that is unset or empty, and options that do not go together', async () => {
    const create = (extra: string[], env: Record<string, string> = {}) => cli(['repo', 'create', 'nope', ...remote(), '--github', 'acme/tools', '--github-api-url', gh.apiUrl, ...extra], env);
    const unset = await create(['--token-env', 'PACKYARD_TEST_UNSET_TOKEN']);
    expect(unset.code).toBe(1);
    expect(unset.stderr).toBe('packyard: --token-env PACKYARD_TEST_UNSET_TOKEN: the environment variable PACKYARD_TEST_UNSET_TOKEN is not set\n');
    const empty = await create(['--webhook-secret-env', 'HOOK'], { HOOK: '' });
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/--webhook-secret-env HOOK: the environment variable HOOK is empty/);
    const both = await create(['--token-env', 'T', '--app-id', '1', '--installation-id', '2', '--private-key', join(work, 'key.pem')], { T: 'x' });
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/choose --token-env or --app-id/);
    const partial = await create(['--app-id', '1']);
    expect(partial.code).toBe(1);
    expect(partial.stderr).toMatch(/needs all three of --app-id, --installation-id and --private-key/);
    const noKey = await create(['--app-id', '1', '--installation-id', '2', '--private-key', join(work, 'missing.pem')]);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toMatch(/--private-key .*missing\.pem: no such file/);
    const noRepo = await cli(['repo', 'create', 'nope', ...remote(), '--token-env', 'T'], { T: 'x' });
    expect(noRepo.code).toBe(1);
    expect(noRepo.stderr).toMatch(/need --github owner\/name/);
    const badDelivery = await create(['--delivery', 'teleport']);
    expect(badDelivery.code).toBe(1);
    expect(badDelivery.stderr).toMatch(/--delivery must be redirect or proxy/);
    // Nothing was created by any of them.
    const show = await cli(['repo', 'show', 'nope', ...remote()]);
    expect(show.code).toBe(1);
    expect(show.stderr).toMatch(/404/);
  });

  it('authenticates as a GitHub App with the key read from a file', async () => {
    gh.addRepo('acme/app-tools', { private: true });
    const { generateKeyPairSync } = await import('node:crypto');
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    await gh.addApp({ id: 4242, publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(), installations: { 77: ['acme/app-tools'] } });
    gh.addRelease('acme/app-tools', { tag: 'v3', assets: [{ name: 'apptool_3.0_amd64.deb', bytes: await deb('apptool', '3.0') }] });
    const keyFile = join(work, 'app.pem');
    await writeFile(keyFile, pem, { mode: 0o600 });
    const created = await cli(['repo', 'create', 'apptools', ...remote(), '--github', 'acme/app-tools', '--github-api-url', gh.apiUrl, '--app-id', '4242', '--installation-id', '77', '--private-key', keyFile, '--json']);
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout).source.github.app).toEqual({ id: '4242', installationId: '77', privateKey: 'set' });
    expect(created.stdout).not.toContain('PRIVATE KEY');
    expect((await cli(['repo', 'show', 'apptools', ...remote()])).stdout).toMatch(/credentials: GitHub App 4242, installation 77, key set; webhook secret not set/);
    const synced = JSON.parse((await cli(['sync', '--repo', 'apptools', ...remote(), '--json'])).stdout) as { added: { package: string }[] }[];
    expect(synced[0]!.added.map((p) => p.package)).toEqual(['apptool']);
  });

  it('syncs every repository that has a source without --repo, exits 1 when one fails, and says when to retry a rate limit', async () => {
    expect((await cli(['repo', 'create', 'uploaded', ...remote()])).code).toBe(0);
    gh.addRepo('acme/gone');
    const broken = await cli(['repo', 'create', 'broken', ...remote(), '--github', 'acme/gone', '--github-api-url', gh.apiUrl]);
    expect(broken.code, broken.stderr).toBe(0);
    expect(broken.stdout).toMatch(/It syncs from GitHub acme\/gone at .*: run "packyard sync --repo broken"/);
    // Synced until then; then GitHub forgets the repository.
    expect((await cli(['sync', '--repo', 'broken', ...remote()])).code).toBe(0);
    gh.repo('acme/gone').private = true;

    const all = await cli(['sync', ...remote(), '--json']);
    expect(all.code).toBe(1);
    const reports = JSON.parse(all.stdout) as { repo: string }[];
    expect(reports.map((r) => r.repo).sort()).toEqual(['apptools', 'tools']);
    expect(all.stderr).toMatch(/^packyard: broken: .*\(\d{3} [a-z-]+\)$/m);
    expect(all.stderr).toMatch(/^packyard: 1 of 3 repositories failed to sync: broken$/m);

    // GitHub's rate limit: the answer says when to retry.
    gh.setRemaining('ghp_cli_secret', 0);
    gh.addRelease('acme/tools', { tag: 'v2.0', assets: [{ name: 'tool_2.0_amd64.deb', bytes: await deb('tool', '2.0') }] });
    const limited = await cli(['sync', '--repo', 'tools', ...remote()]);
    expect(limited.code).toBe(1);
    expect(limited.stderr).toMatch(/^packyard: tools: GitHub's primary rate limit .* is exhausted; retry after \d{4}-\d\d-\d\dT[\d:.]+Z \(in \d+ s\).* \(503 github-rate-limited\)$/m);
    gh.setRemaining('ghp_cli_secret', 5000);

    const removed = await cli(['repo', 'update', 'broken', ...remote(), '--no-github', '--json']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(JSON.parse(removed.stdout).source).toBeUndefined();
    const rest = await cli(['sync', ...remote()]);
    expect(rest.code, rest.stderr).toBe(0);
    expect(rest.stdout).toMatch(/^tools from acme\/tools: published snapshot/m);
    expect(rest.stdout).toMatch(/added tool 2\.0 \(amd64\)/);
  });

  it('works on a data directory too, without a server', async () => {
    gh.addRepo('acme/local');
    gh.addRelease('acme/local', { tag: 'v1', assets: [{ name: 'localtool_1.0_amd64.deb', bytes: await deb('localtool', '1.0') }] });
    const data = join(work, 'data');
    const created = await cli(['repo', 'create', 'local', '--data', data, '--github', 'acme/local', '--github-api-url', gh.apiUrl, '--distribution', 'bookworm', '--component', 'tools']);
    expect(created.code, created.stderr).toBe(0);
    const synced = await cli(['sync', '--data', data]);
    expect(synced.code, synced.stderr).toBe(0);
    expect(synced.stdout).toMatch(/added localtool 1\.0 \(amd64\) in bookworm/);
    const listed = JSON.parse((await cli(['ls', '--data', data, '--repo', 'local', '--json'])).stdout) as { package: string; distribution: string; component: string }[];
    expect(listed).toMatchObject([{ package: 'localtool', distribution: 'bookworm', component: 'tools' }]);
  });
});

describe('packyard serve --sync-interval', () => {
  it('syncs every repository that has a source on its own, logging one line per repository, a failure included', async () => {
    gh.addRepo('acme/periodic');
    gh.addRepo('acme/vanishing');
    const server = await startServer({ env: { PACKYARD_SYNC_INTERVAL: '1s' } });
    try {
      const remote = ['--url', server.url, '--token', server.token];
      expect((await cli(['repo', 'create', 'periodic', ...remote, '--public', '--github', 'acme/periodic', '--github-api-url', gh.apiUrl])).code).toBe(0);
      expect((await cli(['repo', 'create', 'vanishing', ...remote, '--github', 'acme/vanishing', '--github-api-url', gh.apiUrl])).code).toBe(0);
      gh.repo('acme/vanishing').private = true;
      const packages = async () => (await fetch(`${server.url}/periodic/dists/stable/main/binary-amd64/Packages`)).text();
      const waitFor = async (what: RegExp, read: () => Promise<string>) => {
        for (let i = 0; i < 100; i++) {
          if (what.test(await read())) return;
          await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error(`${what} did not appear:\n${await server.logTail()}`);
      };

      // No API call: a release made on GitHub appears with the next round.
      gh.addRelease('acme/periodic', { tag: 'v1', assets: [{ name: 'periodic_1.0_amd64.deb', bytes: await deb('periodic', '1.0') }] });
      await waitFor(/Version: 1\.0/, packages);
      gh.addRelease('acme/periodic', { tag: 'v2', assets: [{ name: 'periodic_2.0_amd64.deb', bytes: await deb('periodic', '2.0') }] });
      await waitFor(/Version: 2\.0/, packages);

      const lines = () => readFile(server.logFile, 'utf8').then((t) => t.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>));
      await waitFor(/"msg":"sync failed","repo":"vanishing"/, () => readFile(server.logFile, 'utf8'));
      const logged = await lines();
      expect(logged.find((l) => l.msg === 'sync' && l.repo === 'periodic' && l.added === 1)).toMatchObject({ level: 'info', repository: 'acme/periodic', snapshot: expect.any(String), removed: 0 });
      expect(logged.find((l) => l.msg === 'sync failed' && l.repo === 'vanishing')).toMatchObject({ level: 'error', status: expect.any(Number), error: expect.any(String) });
      // The failure stopped nothing: the server answers, and the rounds go on.
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      const rounds = async () => (await lines()).filter((l) => l.msg === 'sync' && l.repo === 'periodic').length;
      const before = await rounds();
      await waitFor(/./, async () => ((await rounds()) > before ? 'more' : ''));
    } finally {
      const exit = await server.stop();
      // Stopped on close: the process ends on SIGTERM, not by the helper's SIGKILL.
      expect(exit.signal).toBeNull();
    }
  });

  it('refuses an interval it cannot read', async () => {
    const r = await cli(['serve', '--data', join(work, 'never'), '--port', '0', '--sync-interval', 'often']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/invalid duration "often"/);
  });
});
