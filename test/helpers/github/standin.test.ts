// The GitHub stand-in, proven with plain fetch: each behaviour the client (and later the sync,
// the webhook and the heartbeat) relies on, as github.com has it.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { SignJWT, importPKCS8 } from 'jose';
import { signWebhook, startGitHubStandin, webhookHeaders, type GitHubStandin } from './standin.js';

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

function links(header: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(',')) {
    const m = /<([^>]+)>;\s*rel="([^"]+)"/.exec(part);
    if (m) out[m[2]!] = m[1]!;
  }
  return out;
}

describe('the GitHub stand-in', () => {
  let gh: GitHubStandin;
  beforeEach(async () => {
    gh = await startGitHubStandin();
    gh.addRepo('acme/tools');
    for (let i = 1; i <= 5; i++)
      gh.addRelease('acme/tools', { tag: `v1.${i}`, assets: [{ name: `tool_1.${i}_amd64.deb`, bytes: bytes(100 + i) }] });
  });
  afterEach(() => gh.close());

  it('lists releases newest first with GitHub fields, paginated by Link with an opaque page parameter', async () => {
    const first = await fetch(`${gh.apiUrl}/repos/acme/tools/releases?per_page=2`);
    expect(first.status).toBe(200);
    const page1 = (await first.json()) as { tag_name: string; draft: boolean; assets: Record<string, unknown>[] }[];
    expect(page1.map((r) => r.tag_name)).toEqual(['v1.5', 'v1.4']);
    const asset = page1[0]!.assets[0]!;
    expect(Object.keys(page1[0]!)).toEqual(expect.arrayContaining(['id', 'tag_name', 'name', 'draft', 'prerelease', 'published_at', 'assets']));
    expect(asset).toMatchObject({ name: 'tool_1.5_amd64.deb', size: 105, content_type: 'application/vnd.debian.binary-package' });
    expect(asset.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(asset.url).toMatch(new RegExp(`^${gh.apiUrl}/repos/acme/tools/releases/assets/\\d+$`));
    const l1 = links(first.headers.get('link'));
    expect(Object.keys(l1).sort()).toEqual(['last', 'next']);
    expect(l1.next).not.toMatch(/[?&]page=/);
    const tags: string[] = page1.map((r) => r.tag_name);
    let next: string | undefined = l1.next;
    let pages = 1;
    while (next) {
      const res = await fetch(next);
      tags.push(...((await res.json()) as { tag_name: string }[]).map((r) => r.tag_name));
      next = links(res.headers.get('link')).next;
      pages++;
    }
    expect(pages).toBe(3);
    expect(tags).toEqual(['v1.5', 'v1.4', 'v1.3', 'v1.2', 'v1.1']);
    // Default 30 a page, at most 100.
    const all = await fetch(`${gh.apiUrl}/repos/acme/tools/releases`);
    expect(((await all.json()) as unknown[]).length).toBe(5);
    expect(all.headers.get('link')).toBeNull();
  });

  it('caps per_page at 100, never lists drafts, and gives null digests for old assets', async () => {
    gh.addRepo('acme/many');
    for (let i = 0; i < 120; i++) gh.addRelease('acme/many', { tag: `t${i}` });
    gh.addRelease('acme/many', { tag: 'draft', draft: true });
    gh.addRelease('acme/many', { tag: 'old', assets: [{ name: 'a.rpm', bytes: bytes(3), digest: false }] });
    const res = await fetch(`${gh.apiUrl}/repos/acme/many/releases?per_page=500`);
    const page = (await res.json()) as { tag_name: string; assets: { digest: string | null; content_type: string }[] }[];
    expect(page.length).toBe(100);
    expect(page.some((r) => r.tag_name === 'draft')).toBe(false);
    expect(page[0]!.assets[0]).toMatchObject({ digest: null, content_type: 'application/x-rpm' });
    // Drafts are listed to a token that can push, not to one that only reads.
    gh.addToken('ghp_reader', '*');
    gh.addToken('ghp_pusher', ['acme/many'], { push: true });
    const tags = async (token: string) =>
      ((await (await fetch(`${gh.apiUrl}/repos/acme/many/releases?per_page=3`, { headers: { Authorization: `Bearer ${token}` } })).json()) as { tag_name: string; draft: boolean }[]).map((r) => r.tag_name);
    expect(await tags('ghp_reader')).toEqual(['old', 't119', 't118']);
    expect(await tags('ghp_pusher')).toEqual(['old', 'draft', 't119']);
  });

  it('answers If-None-Match with 304, which costs no rate limit', async () => {
    const url = `${gh.apiUrl}/repos/acme/tools/releases?per_page=2`;
    const a = await fetch(url);
    const etag = a.headers.get('etag')!;
    expect(etag).toMatch(/^W\/"[0-9a-f]+"$/);
    expect(a.headers.get('x-ratelimit-remaining')).toBe('59');
    const b = await fetch(url, { headers: { 'If-None-Match': etag } });
    expect(b.status).toBe(304);
    expect(b.headers.get('x-ratelimit-remaining')).toBe('59');
    expect(gh.stats).toMatchObject({ apiRequests: 2, counted: 1, notModified: 1 });
    gh.addRelease('acme/tools', { tag: 'v2.0' });
    const c = await fetch(url, { headers: { 'If-None-Match': etag } });
    expect(c.status).toBe(200);
    expect(c.headers.get('etag')).not.toBe(etag);
    expect(c.headers.get('x-ratelimit-remaining')).toBe('58');
  });

  it('sends the rate-limit headers and refuses with 403 at exhaustion; a secondary limit says Retry-After', async () => {
    const res = await fetch(`${gh.apiUrl}/repos/acme/tools`);
    expect(res.headers.get('x-ratelimit-limit')).toBe('60');
    expect(res.headers.get('x-ratelimit-used')).toBe('1');
    expect(res.headers.get('x-ratelimit-resource')).toBe('core');
    expect(Number(res.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
    gh.setRemaining('anonymous', 0);
    const refused = await fetch(`${gh.apiUrl}/repos/acme/tools/releases`);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(((await refused.json()) as { message: string }).message).toMatch(/API rate limit exceeded/);
    expect(gh.stats.rateLimited).toBe(1);
    gh.setRemaining('anonymous', 10);
    gh.secondaryLimit({ retryAfter: 7, status: 429 });
    const secondary = await fetch(`${gh.apiUrl}/repos/acme/tools`);
    expect(secondary.status).toBe(429);
    expect(secondary.headers.get('retry-after')).toBe('7');
    expect((await fetch(`${gh.apiUrl}/repos/acme/tools`)).status).toBe(200);
  });

  it('hides a private repository (404) without a valid token, and refuses an unknown token (401)', async () => {
    gh.addRepo('acme/secret', { private: true });
    gh.addRelease('acme/secret', { tag: 'v1', assets: [{ name: 's.deb', bytes: bytes(10) }] });
    gh.addToken('ghp_good', ['acme/secret']);
    gh.addToken('ghp_other', ['acme/tools']);
    const url = `${gh.apiUrl}/repos/acme/secret/releases`;
    expect((await fetch(url)).status).toBe(404);
    expect((await fetch(url, { headers: { Authorization: 'Bearer ghp_other' } })).status).toBe(404);
    expect((await fetch(url, { headers: { Authorization: 'Bearer ghp_bad' } })).status).toBe(401);
    const ok = await fetch(url, { headers: { Authorization: 'token ghp_good' } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-ratelimit-limit')).toBe('5000');
    const ok2 = await fetch(url, { headers: { Authorization: 'Bearer ghp_good' } });
    expect(ok2.status).toBe(200);
    // browser_download_url of a private repository needs a browser session: 404.
    const [release] = (await ok.json()) as { assets: { browser_download_url: string }[] }[];
    expect((await fetch(release!.assets[0]!.browser_download_url, { redirect: 'manual' })).status).toBe(404);
  });

  it('redirects the assets API (octet-stream) and browser_download_url to signed URLs on the asset host', async () => {
    const [release] = (await (await fetch(`${gh.apiUrl}/repos/acme/tools/releases`)).json()) as { assets: { url: string; browser_download_url: string; size: number }[] }[];
    const asset = release!.assets[0]!;
    const json = await fetch(asset.url);
    expect(((await json.json()) as { size: number }).size).toBe(asset.size);
    const redirect = await fetch(asset.url, { headers: { Accept: 'application/octet-stream' }, redirect: 'manual' });
    expect(redirect.status).toBe(302);
    const signed = new URL(redirect.headers.get('location')!);
    expect(signed.origin).toBe(gh.assetUrl);
    expect(signed.origin).not.toBe(gh.apiUrl);
    const expires = Number(signed.searchParams.get('expires'));
    expect(expires - Date.now() / 1000).toBeGreaterThan(290);
    expect(expires - Date.now() / 1000).toBeLessThanOrEqual(300);
    expect(signed.searchParams.get('sig')).toMatch(/^[0-9a-f]{64}$/);
    const before = gh.stats.counted;
    const browser = await fetch(asset.browser_download_url, { redirect: 'manual' });
    expect(browser.status).toBe(302);
    expect(new URL(browser.headers.get('location')!).origin).toBe(gh.assetUrl);
    expect(gh.stats.counted).toBe(before); // github.com downloads are not API calls
    const body = await fetch(signed);
    expect(body.status).toBe(200);
    expect(new Uint8Array(await body.arrayBuffer())).toEqual(bytes(105));
  });

  it('serves ranges and HEAD, refuses expired and forged signatures, and any Authorization header', async () => {
    const assetId = gh.repo('acme/tools').releases[4]!.assets[0]!.id;
    const url = gh.signAssetUrl(assetId);
    const part = await fetch(url, { headers: { Range: 'bytes=10-19' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 10-19/105');
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(bytes(105).subarray(10, 20));
    const tail = await fetch(url, { headers: { Range: 'bytes=-5' } });
    expect(tail.headers.get('content-range')).toBe('bytes 100-104/105');
    const clipped = await fetch(url, { headers: { Range: 'bytes=100-1000' } });
    expect(clipped.headers.get('content-range')).toBe('bytes 100-104/105');
    const beyond = await fetch(url, { headers: { Range: 'bytes=200-300' } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe('bytes */105');
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('105');
    expect(head.headers.get('accept-ranges')).toBe('bytes');

    const withAuth = await fetch(url, { headers: { Authorization: 'Bearer ghp_x' } });
    expect(withAuth.status).toBe(400);
    expect(await withAuth.text()).toMatch(/Only one auth mechanism allowed/);
    expect(gh.stats.assetAuthRefused).toBe(1);

    expect((await fetch(gh.signAssetUrl(assetId, -1))).status).toBe(403);
    const forged = new URL(url);
    forged.searchParams.set('expires', String(Number(forged.searchParams.get('expires')) + 3600));
    expect((await fetch(forged)).status).toBe(403);
    const otherAsset = gh.repo('acme/tools').releases[3]!.assets[0]!.id;
    const swapped = new URL(gh.signAssetUrl(otherAsset));
    swapped.searchParams.set('sig', new URL(url).searchParams.get('sig')!);
    expect((await fetch(swapped)).status).toBe(403);
  });

  it('follows a configurable signed-URL life and a test clock', async () => {
    let clock = Date.now();
    const timed = await startGitHubStandin({ signedUrlTtl: 2, now: () => clock });
    try {
      timed.addRepo('a/b');
      const r = timed.addRelease('a/b', { tag: 'v1', assets: [{ name: 'x.deb', bytes: bytes(4) }] });
      const url = timed.signAssetUrl(r.assets[0]!.id);
      expect((await fetch(url)).status).toBe(200);
      clock += 3000;
      expect((await fetch(url)).status).toBe(403);
    } finally {
      await timed.close();
    }
  });

  it('exchanges an RS256 App JWT for an installation token that reaches the installation repositories', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const key = await importPKCS8(pem, 'RS256');
    gh.addRepo('acme/private', { private: true });
    await gh.addApp({ id: 4242, publicKey: publicKey.export({ type: 'spki', format: 'pem' }) as string, installations: { 77: ['acme/private'] } });
    const now = Math.floor(Date.now() / 1000);
    const jwt = (claims: { iat: number; exp: number; iss?: string | number }, signWith = key) =>
      new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setIssuer(String(claims.iss ?? 4242)).setIssuedAt(claims.iat).setExpirationTime(claims.exp).sign(signWith);
    const exchange = (token: string, installation = 77) =>
      fetch(`${gh.apiUrl}/app/installations/${installation}/access_tokens`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, Accept: 'application/vnd.github+json' } });

    const ok = await exchange(await jwt({ iat: now - 60, exp: now + 540 }));
    expect(ok.status).toBe(201);
    const { token, expires_at } = (await ok.json()) as { token: string; expires_at: string };
    expect(token).toMatch(/^ghs_/);
    expect(Date.parse(expires_at) - Date.now()).toBeGreaterThan(3590_000);
    expect((await fetch(`${gh.apiUrl}/repos/acme/private`)).status).toBe(404);
    expect((await fetch(`${gh.apiUrl}/repos/acme/private`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);

    const otherKey = await importPKCS8(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 'RS256');
    const refusals = [
      await jwt({ iat: now - 60, exp: now + 540 }, otherKey), // forged
      await jwt({ iat: now - 700, exp: now - 100 }), // expired
      await jwt({ iat: now - 60, exp: now + 900 }), // exp more than 10 minutes after iat
      await jwt({ iat: now + 300, exp: now + 600 }), // issued in the future
      await jwt({ iat: now - 60, exp: now + 540, iss: 999 }), // another App
      'not-a-jwt',
    ];
    for (const bad of refusals) expect((await exchange(bad)).status).toBe(401);
    // An HS256 token with the public key as the secret is not RS256.
    const hs = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer('4242').setIssuedAt(now - 60).setExpirationTime(now + 540)
      .sign(new TextEncoder().encode(publicKey.export({ type: 'spki', format: 'pem' }) as string));
    expect((await exchange(hs)).status).toBe(401);
    expect((await exchange(await jwt({ iat: now - 60, exp: now + 540 }), 78)).status).toBe(404);
    expect(gh.issuedTokens.length).toBe(1);
  });

  it('expires installation tokens after an hour', async () => {
    let clock = Date.now();
    const timed = await startGitHubStandin({ now: () => clock });
    try {
      const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      timed.addRepo('a/p', { private: true });
      await timed.addApp({ id: 1, publicKey, installations: { 2: ['a/p'] } });
      const t = Math.floor(clock / 1000);
      const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setIssuer('1').setIssuedAt(t - 60).setExpirationTime(t + 500).sign(privateKey);
      const res = await fetch(`${timed.apiUrl}/app/installations/2/access_tokens`, { method: 'POST', headers: { Authorization: `Bearer ${jwt}` } });
      const { token } = (await res.json()) as { token: string };
      const get = () => fetch(`${timed.apiUrl}/repos/a/p`, { headers: { Authorization: `token ${token}` } });
      expect((await get()).status).toBe(200);
      clock += 3601_000;
      expect((await get()).status).toBe(401);
    } finally {
      await timed.close();
    }
  });

  it('takes back an API port it is given, so that URLs stored from an earlier stand-in answer again', async () => {
    const port = Number(new URL(gh.apiUrl).port);
    const stored = `${gh.apiUrl}/acme/tools/releases/download/v1.1/tool_1.1_amd64.deb`;
    await gh.close();
    gh = await startGitHubStandin({ apiPort: port });
    gh.addRepo('acme/tools');
    gh.addRelease('acme/tools', { tag: 'v1.1', assets: [{ name: 'tool_1.1_amd64.deb', bytes: bytes(101) }] });
    expect(gh.apiUrl).toBe(`http://127.0.0.1:${port}`);
    const res = await fetch(stored);
    expect(res.status).toBe(200);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes(101));
  });

  it('signs webhooks as GitHub does', () => {
    const body = JSON.stringify({ action: 'published', release: { tag_name: 'v1' } });
    const expected = 'sha256=' + createHmac('sha256', 'It’s a Secret to Everybody').update(body).digest('hex');
    expect(signWebhook('It’s a Secret to Everybody', body)).toBe(expected);
    // GitHub's documented example.
    expect(signWebhook("It's a Secret to Everybody", 'Hello, World!')).toBe('sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17');
    expect(webhookHeaders('s', 'release', body)).toMatchObject({ 'x-github-event': 'release', 'x-hub-signature-256': signWebhook('s', body) });
  });
});
