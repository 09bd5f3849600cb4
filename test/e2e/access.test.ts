// Access control end to end, on the Node host and on the Worker host (wrangler dev): private
// repositories read by apt with a token in auth.conf, scoped API tokens, CI publishing with OIDC
// tokens from a local issuer, path tricks, and throttling of failed authentication.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aptInstall, aptUpdate, configureApt, freshChroot, isInstalled, type Chroot } from '../helpers/chroot.js';
import { buildDeb, fetchRealDebs, type DebFile } from '../helpers/debs.js';
import { api, aptLine, startServer } from '../helpers/server.js';
import { startWorker } from '../helpers/worker.js';
import { githubClaims, startOidcIssuer, type TestIssuer } from '../helpers/oidc-issuer.js';
import { repoRoot, run } from '../helpers/exec.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Host {
  url: string;
  token: string;
  stop(): Promise<unknown>;
}

const INSECURE = { PACKYARD_OIDC_ALLOW_INSECURE: '1' };

describe.each([
  ['Node host', (): Promise<Host> => startServer({ env: INSECURE })],
  ['Worker host', (): Promise<Host> => startWorker({ vars: INSECURE })],
])('access control on the %s', (_, start) => {
  let host: Host;
  let chroot: Chroot;
  let issuer: TestIssuer;
  let work: string;
  let real: Awaited<ReturnType<typeof fetchRealDebs>>;
  let tool: DebFile;

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const basic = (login: string, password: string) => ({ authorization: `Basic ${btoa(`${login}:${password}`)}` });
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${host.url}${path}`, { headers });
  const createToken = async (body: unknown) => {
    const res = await fetch(`${host.url}/api/v1/tokens`, { method: 'POST', headers: { ...bearer(host.token), 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status, await res.clone().text()).toBe(201);
    return (await res.json()) as { id: string; token: string };
  };
  const upload = async (repo: string, file: DebFile, headers: Record<string, string>) => {
    const form = new FormData();
    form.append('file', new Blob([await import('node:fs/promises').then((fs) => fs.readFile(file.path))]), file.name);
    return fetch(`${host.url}/api/v1/repos/${repo}/packages?distribution=stable`, { method: 'POST', headers, body: form });
  };
  const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'packyard-access-'));
    [real, chroot, host, issuer] = await Promise.all([fetchRealDebs(), freshChroot(), start(), startOidcIssuer({ audience: 'packyard-test' })]);
    tool = await buildDeb({ name: 'ci-tool', version: '1.0', arch: 'amd64', compression: 'xz' }, join(work, 'debs'));
    const admin = api(host.url, host.token);
    await admin.createRepo('acme', { public: false });
    await admin.createRepo('other', { public: false });
    await admin.upload('acme', 'stable', 'main', [real['vim-common'].path, real['vim-tiny'].path]);
    await admin.upload('other', 'stable', 'main', [real.xxd.path]);
  }, 600_000);

  afterAll(async () => {
    await host?.stop();
    await chroot?.dispose();
    await issuer?.close();
  });

  it('lets apt read with a token in auth.conf, and makes apt report a 401 without one', async () => {
    const { token } = await createToken({ name: 'fleet', repos: { acme: ['read'] }, expiresIn: '30d' });
    const source = { sourcesLine: aptLine(host.url, 'acme', 'stable', 'main'), keyringBytes: await api(host.url).publicKey('acme') };

    await configureApt(chroot.root, source);
    const refused = await aptUpdate(chroot.root);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toMatch(/401\s+Unauthorized/);

    await configureApt(chroot.root, { ...source, authConf: `machine ${host.url}/acme login apt password ${token}` });
    const update = await aptUpdate(chroot.root);
    expect(update.code, update.stdout + update.stderr).toBe(0);
    const install = await aptInstall(chroot.root, ['vim-tiny']);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    expect(await isInstalled(chroot.root, 'vim-tiny')).toBe(true);
  });

  it('keeps tokens to their scopes and repositories, and refuses revoked ones', async () => {
    const reader = await createToken({ name: 'reader', repos: { acme: ['read'] } });
    const writer = await createToken({ name: 'ci', repos: { acme: ['write'] } });
    const inRelease = '/acme/dists/stable/InRelease';

    expect((await get(inRelease)).status).toBe(401);
    expect((await get(inRelease)).headers.get('www-authenticate')).toMatch(/^Basic /);
    expect((await get(inRelease, bearer(reader.token))).status).toBe(200);
    expect((await get(inRelease, basic('anything', reader.token))).status).toBe(200);
    expect((await get(inRelease, bearer(writer.token))).status).toBe(200); // write implies read
    for (const path of ['/acme/public.key', '/acme/public.gpg', '/healthz']) expect((await get(path)).status, path).toBe(200);

    const readOnly = await upload('acme', tool, bearer(reader.token));
    expect(readOnly.status).toBe(403);
    expect(await errorCode(readOnly)).toBe('forbidden');
    // A token for acme neither reads nor writes other.
    expect((await get('/other/dists/stable/InRelease', bearer(writer.token))).status).toBe(403);
    expect((await get('/api/v1/repos/other/packages', bearer(writer.token))).status).toBe(403);
    expect((await upload('other', tool, bearer(writer.token))).status).toBe(403);
    // Listing shows only what the token may read; tokens are for the admin.
    const listed = (await (await get('/api/v1/repos', bearer(reader.token))).json()) as { repos: { name: string }[] };
    expect(listed.repos.map((r) => r.name)).toEqual(['acme']);
    expect((await get('/api/v1/tokens', bearer(writer.token))).status).toBe(403);

    const published = await upload('acme', tool, bearer(writer.token));
    expect(published.status).toBe(201);
    const history = (await (await get('/api/v1/repos/acme/snapshots?limit=1', bearer(reader.token))).json()) as { snapshots: { actor: string }[] };
    expect(history.snapshots[0]!.actor).toBe('token:ci');

    const tokens = (await (await get('/api/v1/tokens', bearer(host.token))).json()) as { tokens: { id: string; name: string }[] };
    expect(tokens.tokens.map((t) => t.name)).toEqual(expect.arrayContaining(['fleet', 'reader', 'ci']));
    expect(JSON.stringify(tokens)).not.toContain(reader.token.slice(-40));
    expect((await fetch(`${host.url}/api/v1/tokens/${reader.id}`, { method: 'DELETE', headers: bearer(host.token) })).status).toBe(204);
    // A verified token is remembered for up to 10 s; after that a revoked one fails.
    await new Promise((r) => setTimeout(r, 10_500));
    const revoked = await get(inRelease, bearer(reader.token));
    expect(revoked.status).toBe(401);
    expect(await errorCode(revoked)).toBe('invalid-credentials');
  }, 60_000);

  it('lets CI publish with an OIDC token that matches a trust policy, and refuses every bad token', async () => {
    const policy = await fetch(`${host.url}/api/v1/repos/acme/oidc-policies`, {
      method: 'POST',
      headers: { ...bearer(host.token), 'content-type': 'application/json' },
      body: JSON.stringify({ issuer: issuer.url, audience: 'packyard-test', claims: { repository: 'acme/*', ref: 'refs/heads/main' }, scopes: ['write'] }),
    });
    expect(policy.status, await policy.clone().text()).toBe(201);

    const rs256 = await issuer.sign(githubClaims());
    const first = await upload('acme', await buildDeb({ name: 'oidc-rs', version: '1.0', arch: 'all' }, join(work, 'oidc')), bearer(rs256));
    expect(first.status, await first.clone().text()).toBe(201);
    const es256 = await issuer.sign(githubClaims(), { alg: 'ES256' });
    expect((await upload('acme', await buildDeb({ name: 'oidc-es', version: '1.0', arch: 'all' }, join(work, 'oidc')), bearer(es256))).status).toBe(201);
    const history = (await (await get('/api/v1/repos/acme/snapshots?limit=1', bearer(host.token))).json()) as { snapshots: { actor: string }[] };
    expect(history.snapshots[0]!.actor).toBe('oidc:repo:acme/app:ref:refs/heads/main (acme/app)');
    // apt's way, as existing setups write it: Basic with login oidc or github-action.
    for (const login of ['oidc', 'github-action']) expect((await get('/acme/dists/stable/InRelease', basic(login, rs256))).status, login).toBe(200);

    const other = await startOidcIssuer({ audience: 'packyard-test' });
    try {
      const bad: [string, Promise<string> | string, number][] = [
        ['wrong aud', issuer.sign(githubClaims(), { audience: 'someone-else' }), 401],
        ['wrong iss', issuer.sign(githubClaims(), { issuer: 'https://token.actions.githubusercontent.com' }), 401],
        ['an issuer without a policy', other.sign(githubClaims()), 401],
        ['expired', issuer.sign(githubClaims(), { expiresIn: '-5m' }), 401],
        ['not yet valid', issuer.sign(githubClaims(), { notBefore: '10m' }), 401],
        ['alg none', issuer.unsigned(githubClaims()), 401],
        ['HS256 with the public key as secret', issuer.hs256WithPublicKey('pem', githubClaims()), 401],
        ['an unknown kid', issuer.sign(githubClaims(), { header: { kid: 'nobody-has-this' } }), 401],
        ['a tampered payload', issuer.tampered({ ...githubClaims(), repository: 'acme/app', ref: 'refs/heads/evil' }), 401],
        ['a repository the policy does not trust', issuer.sign({ ...githubClaims(), repository: 'mallory/app' }), 403],
      ];
      for (const [what, token, status] of bad) {
        const res = await upload('acme', tool, bearer(await token));
        expect(res.status, `${what}: ${await res.clone().text()}`).toBe(status);
      }
      // An OIDC token is trusted per repository: acme's policy gives nothing in other.
      expect((await upload('other', tool, bearer(rs256))).status).toBe(401);
    } finally {
      await other.close();
    }
  }, 60_000);

  it('publishes from a GitHub Actions job with `packyard upload --oidc-audience`, no stored secret', async () => {
    // GitHub's token service, which cannot exist here: hands out the issuer's tokens for the asked audience.
    const service = createServer((req, res) => {
      const audience = new URL(req.url!, 'http://x').searchParams.get('audience');
      if (req.headers.authorization !== 'bearer runner-request-token' || !audience) return void res.writeHead(403).end();
      void issuer.sign(githubClaims(), { audience }).then((value) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ value })));
    });
    await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
    try {
      const deb = await buildDeb({ name: 'from-actions', version: '1.0', arch: 'all' }, join(work, 'actions'));
      const env = { ACTIONS_ID_TOKEN_REQUEST_URL: `http://127.0.0.1:${(service.address() as AddressInfo).port}/token?api-version=2.0`, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'runner-request-token', PACKYARD_TOKEN: '' };
      const up = await run('node', [join(repoRoot, 'bin/packyard.mjs'), 'upload', '--url', host.url, '--repo', 'acme', '--distribution', 'stable', '--oidc-audience', 'packyard-test', '--json', deb.path], { env });
      expect(up.code, up.stderr).toBe(0);
      expect((JSON.parse(up.stdout) as { snapshot: { actor: string } }).snapshot.actor).toBe('oidc:repo:acme/app:ref:refs/heads/main (acme/app)');
      const wrongAudience = await run('node', [join(repoRoot, 'bin/packyard.mjs'), 'upload', '--url', host.url, '--repo', 'acme', '--distribution', 'stable', '--oidc-audience', 'elsewhere', deb.path], { env });
      expect(wrongAudience.code).toBe(1);
      expect(wrongAudience.stderr).toMatch(/401 invalid-oidc-token/);
    } finally {
      service.close();
    }
  });

  it('never serves one repository’s files through another’s URLs', async () => {
    const { token } = await createToken({ name: 'other-only', repos: { other: ['read'] } });
    const secret = await (await get('/acme/pool/main/v/vim/vim-tiny_9.0.1378-2+deb12u2_amd64.deb'.replace('+', '%2B'), bearer(host.token))).arrayBuffer();
    expect(secret.byteLength).toBeGreaterThan(1000);
    const paths = [
      '/other/..%2facme/dists/stable/InRelease',
      '/other/dists%2f..%2f..%2facme%2fdists%2fstable%2fInRelease',
      '/other/pool/..%2f..%2facme/pool/main/v/vim/vim-tiny_9.0.1378-2%2Bdeb12u2_amd64.deb',
      '/other/pool/%252e%252e/acme/pool/main/v/vim/vim-tiny_9.0.1378-2%2Bdeb12u2_amd64.deb',
      '/other/pool/main/v/vim/vim-tiny_9.0.1378-2%2Bdeb12u2_amd64.deb',
      '/%61cme/dists/stable/InRelease',
      '/ACME/dists/stable/InRelease',
      '/Acme/pool/main/v/vim/vim-tiny_9.0.1378-2%2Bdeb12u2_amd64.deb',
      '/acme%2fdists/stable/InRelease',
      `/other/${'../'.repeat(2000)}acme/dists/stable/InRelease`,
      `/acme/${'a/'.repeat(3000)}x`,
      '/api/v1/repos/acme%2f..%2fother/packages',
      '/api/v1/repos/ACME/packages',
    ];
    for (const path of paths) {
      const res = await fetch(`${host.url}${path}`, { headers: bearer(token) });
      const body = new Uint8Array(await res.arrayBuffer());
      expect(res.status, path).not.toBe(200);
      expect(body.byteLength === secret.byteLength, path).toBe(false);
      expect(new TextDecoder().decode(body), path).not.toMatch(/BEGIN PGP SIGNED MESSAGE|debian-binary/);
    }
  });

  it('answers 429 to a client that keeps failing, without locking out a token that works', async () => {
    const { token } = await createToken({ name: 'steady', repos: { acme: ['read'] } });
    expect((await get('/acme/dists/stable/InRelease', bearer(token))).status).toBe(200);
    // Guesses get 401 until the client has failed 20 times in a minute (some of them in the tests above), then 429.
    const statuses: number[] = [];
    for (let i = 0; i < 25 && statuses.at(-1) !== 429; i++) statuses.push((await get('/acme/dists/stable/InRelease', bearer(`pyt_${'0'.repeat(16)}_${String(i).padStart(40, '0')}`))).status);
    expect(statuses.at(-1)).toBe(429);
    expect(statuses.slice(0, -1).every((s) => s === 401)).toBe(true);
    const blocked = await get('/acme/dists/stable/InRelease', bearer('pyt_0000000000000000_ffffffffffffffffffffffffffffffffffffffff'));
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await get('/acme/dists/stable/InRelease', bearer(token))).status).toBe(200);
  });
});
