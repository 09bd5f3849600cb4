// The GitHub client against the local GitHub stand-in (a real HTTP server on two ports).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { decodeJwt } from 'jose';
import { startGitHubStandin, type GitHubStandin } from '../../helpers/github/standin.js';
import { GitHubClient, GitHubError, GitHubRateLimitError, assetSha256, signedUrlExpiry, type GitHubClientOptions } from '../../../src/sources/github/client.js';
import { parseLinks } from '../../../src/sources/github/link.js';
import { importAppKey } from '../../../src/sources/github/auth.js';
import { PackyardError } from '../../../src/util/errors.js';

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 7) & 0xff);

/** The fetch the client uses, recording each request's URL and Authorization. */
function recordingFetch() {
  const calls: { url: string; authorization: string | null; method: string }[] = [];
  const f: typeof fetch = async (input, init) => {
    const req = new Request(input, init);
    calls.push({ url: req.url, authorization: req.headers.get('authorization'), method: req.method });
    return fetch(req, { redirect: init?.redirect ?? 'follow' });
  };
  return { fetch: f, calls };
}

describe('GitHubClient against the stand-in', () => {
  let gh: GitHubStandin;
  let rec: ReturnType<typeof recordingFetch>;
  const client = (opts: GitHubClientOptions = {}) => new GitHubClient({ apiUrl: gh.apiUrl, fetch: rec.fetch, perPage: 2, ...opts });

  beforeEach(async () => {
    gh = await startGitHubStandin();
    rec = recordingFetch();
    gh.addRepo('acme/tools');
    for (let i = 1; i <= 5; i++)
      gh.addRelease('acme/tools', { tag: `v1.${i}`, assets: [{ name: `tool_1.${i}_amd64.deb`, bytes: bytes(1000 + i, i), digest: i !== 2 }, { name: 'SHA256SUMS', bytes: bytes(64) }] });
    gh.addRelease('acme/tools', { tag: 'v2.0-draft', draft: true, assets: [{ name: 'tool_2.0_amd64.deb', bytes: bytes(10) }] });
    gh.addRepo('acme/secret', { private: true });
    gh.addRelease('acme/secret', { tag: 'v1', assets: [{ name: 'secret_1_amd64.deb', bytes: bytes(5000, 9) }] });
    gh.addToken('ghp_reader', ['acme/secret']);
  });
  afterEach(async () => {
    // Whatever the test did: the asset host never saw an Authorization header.
    expect(gh.stats.log.filter((r) => r.host === 'assets' && r.authorization !== undefined)).toEqual([]);
    expect(gh.stats.assetAuthRefused).toBe(0);
    await gh.close();
  });

  it('lists releases over 3 pages by following Link rel="next" (only the first URL is built), drafts left out', async () => {
    const c = client();
    const { releases, pages, notModified, rateLimit } = await c.listReleases('acme/tools');
    expect(pages).toBe(3);
    expect(notModified).toBe(0);
    expect(releases.map((r) => r.tag_name)).toEqual(['v1.5', 'v1.4', 'v1.3', 'v1.2', 'v1.1']);
    const listed = rec.calls.map((c) => new URL(c.url));
    expect(listed[0]!.search).toBe('?per_page=2');
    for (const u of listed.slice(1)) expect(u.searchParams.get('cursor')).toBeTruthy(); // from the links
    expect(rateLimit).toMatchObject({ limit: 60, remaining: 57, used: 3, resource: 'core' });
    const v12 = releases.find((r) => r.tag_name === 'v1.2')!;
    expect(v12.assets[0]!.digest).toBeNull();
    expect(assetSha256(v12.assets[0]!)).toBeUndefined();
    expect(assetSha256(releases[0]!.assets[0]!)).toMatch(/^[0-9a-f]{64}$/);
    expect(releases[0]!.assets[0]).toMatchObject({ name: 'tool_1.5_amd64.deb', size: 1005, content_type: 'application/vnd.debian.binary-package' });
    // A token that can push sees the draft in GitHub's answer; the client leaves it out.
    gh.addToken('ghp_pusher', ['acme/tools'], { push: true });
    const pusher = await client({ credentials: { token: 'ghp_pusher' } }).listReleases('acme/tools');
    expect(gh.stats.log.at(-3)!.status).toBe(200);
    expect(pusher.releases.map((r) => r.tag_name)).toEqual(['v1.5', 'v1.4', 'v1.3', 'v1.2', 'v1.1']);
  });

  it('sends If-None-Match on a repeated listing and reuses 304 pages: no rate limit spent', async () => {
    const c = client();
    await c.listReleases('acme/tools');
    const counted = gh.stats.counted;
    const again = await c.listReleases('acme/tools');
    expect(again).toMatchObject({ pages: 3, notModified: 3 });
    expect(again.releases.map((r) => r.tag_name)).toEqual(['v1.5', 'v1.4', 'v1.3', 'v1.2', 'v1.1']);
    expect(gh.stats.counted).toBe(counted);
    expect(gh.stats.log.slice(-3).every((r) => r.status === 304 && r.ifNoneMatch)).toBe(true);

    // One page (the whole list fits): a no-change listing costs nothing at all.
    const one = client({ perPage: 100 });
    await one.listReleases('acme/tools');
    const before = gh.stats.counted;
    expect(await one.listReleases('acme/tools')).toMatchObject({ pages: 1, notModified: 1 });
    expect(gh.stats.counted).toBe(before);

    // A new release changes every page (they shift); the listing sees it.
    gh.addRelease('acme/tools', { tag: 'v1.6' });
    const changed = await c.listReleases('acme/tools');
    expect(changed.releases.map((r) => r.tag_name)).toEqual(['v1.6', 'v1.5', 'v1.4', 'v1.3', 'v1.2', 'v1.1']);
    expect(changed.notModified).toBe(0);
  });

  it('throws a typed error at exhaustion, with when to retry, and then stops asking', async () => {
    const c = client();
    gh.setRemaining('anonymous', 0);
    const err = await c.listReleases('acme/tools').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitHubRateLimitError);
    const rl = err as GitHubRateLimitError;
    expect(rl.kind).toBe('primary');
    expect(rl.retryAt.getTime()).toBeGreaterThan(Date.now() + 3000_000);
    expect(rl.message).toMatch(/rate limit.*retry after/);
    expect(rl).toBeInstanceOf(PackyardError);
    expect(rl.status).toBe(503);
    expect(Number(rl.headers!['Retry-After'])).toBeGreaterThan(3000);
    expect(gh.stats.rateLimited).toBe(1);
    const requests = gh.stats.apiRequests;
    await expect(c.listReleases('acme/tools')).rejects.toBeInstanceOf(GitHubRateLimitError);
    await expect(c.getRepository('acme/tools')).rejects.toBeInstanceOf(GitHubRateLimitError);
    expect(gh.stats.apiRequests).toBe(requests); // not hammered
  });

  it('stops before asking when the last answer said no requests remain', async () => {
    const c = client();
    gh.setRemaining('anonymous', 1);
    const err = (await c.listReleases('acme/tools').catch((e: unknown) => e)) as GitHubRateLimitError;
    expect(err).toBeInstanceOf(GitHubRateLimitError);
    expect(err.rateLimit?.remaining).toBe(0);
    expect(gh.stats).toMatchObject({ apiRequests: 1, rateLimited: 0 });
  });

  it('honours a secondary limit’s Retry-After', async () => {
    let clock = Date.now();
    const c = client({ now: () => clock });
    gh.secondaryLimit({ retryAfter: 30, status: 429 });
    const err = (await c.listReleases('acme/tools').catch((e: unknown) => e)) as GitHubRateLimitError;
    expect(err).toBeInstanceOf(GitHubRateLimitError);
    expect(err.kind).toBe('secondary');
    expect(err.retryAt.getTime() - clock).toBe(30_000);
    expect(err.headers).toEqual({ 'Retry-After': '30' });
    await expect(c.listReleases('acme/tools')).rejects.toBeInstanceOf(GitHubRateLimitError);
    expect(gh.stats.apiRequests).toBe(1);
    clock += 31_000;
    expect((await c.listReleases('acme/tools')).releases.length).toBe(5);
  });

  it('gets 404 for a private repository without a token, 401 for a bad one, and the releases with a good one', async () => {
    const anon = await client().listReleases('acme/secret').catch((e: unknown) => e);
    expect(anon).toBeInstanceOf(GitHubError);
    expect((anon as GitHubError).status).toBe(404);
    expect((anon as GitHubError).message).toMatch(/private repository answers 404 without a token/);
    const bad = await client({ credentials: { token: 'ghp_nope' } }).listReleases('acme/secret').catch((e: unknown) => e);
    expect((bad as GitHubError).status).toBe(401);
    const c = client({ credentials: { token: 'ghp_reader' } });
    rec.calls.length = 0;
    const { releases, rateLimit } = await c.listReleases('acme/secret');
    expect(releases.map((r) => r.tag_name)).toEqual(['v1']);
    expect(rateLimit?.limit).toBe(5000);
    expect((await c.getRepository('acme/secret')).private).toBe(true);
    expect(rec.calls.every((call) => call.authorization === 'Bearer ghp_reader')).toBe(true);
    await expect(c.listReleases('acme/../x')).rejects.toThrow(/not a GitHub repository name/);
  });

  it('authenticates as a GitHub App (PKCS#1 key): JWT exchanged once, token cached until 5 minutes before expiry', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    let clock = Date.now();
    const app = { id: 31337, installationId: 555, privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }) as string };
    const timed = await startGitHubStandin({ now: () => clock });
    try {
      // A stand-in on the test's clock, to move the hour along.
      timed.addRepo('acme/secret', { private: true });
      timed.addRelease('acme/secret', { tag: 'v1' });
      await timed.addApp({ id: 31337, publicKey, installations: { 555: ['acme/secret'] } });
      const c = new GitHubClient({ apiUrl: timed.apiUrl, fetch: rec.fetch, now: () => clock, credentials: { app } });
      expect((await c.listReleases('acme/secret')).releases.length).toBe(1);
      await c.listReleases('acme/secret');
      expect(c.tokenExchanges).toBe(1);
      const exchange = rec.calls.find((call) => call.url.endsWith('/app/installations/555/access_tokens'))!;
      expect(exchange.method).toBe('POST');
      const claims = decodeJwt(exchange.authorization!.replace(/^Bearer /, ''));
      const t = Math.floor(clock / 1000);
      expect(claims.iss).toBe('31337');
      expect(claims.iat).toBe(t - 60);
      expect(claims.exp! - t).toBeGreaterThanOrEqual(540);
      expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(600);
      expect(rec.calls.filter((call) => call.url.includes('/repos/')).every((call) => /^Bearer ghs_/.test(call.authorization ?? ''))).toBe(true);
      clock += 54 * 60_000; // 6 minutes left: still used
      await c.listReleases('acme/secret');
      expect(c.tokenExchanges).toBe(1);
      clock += 2 * 60_000; // 4 minutes left: replaced
      await c.listReleases('acme/secret');
      expect(c.tokenExchanges).toBe(2);
      expect(timed.issuedTokens.length).toBe(2);
    } finally {
      await timed.close();
    }
  });

  it('is refused (401) with a forged App key or a JWT already expired by the stand-in’s clock', async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    await gh.addApp({ id: 7, publicKey, installations: { 8: ['acme/secret'] } });
    const forged = client({ credentials: { app: { id: 7, installationId: 8, privateKey: other.export({ type: 'pkcs8', format: 'pem' }) as string } } });
    const e1 = (await forged.listReleases('acme/secret').catch((e: unknown) => e)) as GitHubError;
    expect(e1).toBeInstanceOf(GitHubError);
    expect(e1.status).toBe(401);
    expect(e1.message).toMatch(/token exchange/);

    const { publicKey: pub2, privateKey: priv2 } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await gh.addApp({ id: 9, publicKey: pub2, installations: { 10: ['acme/secret'] } });
    // A client whose clock is 20 minutes slow signs a JWT the stand-in finds expired.
    const slow = client({ now: () => Date.now() - 20 * 60_000, credentials: { app: { id: 9, installationId: 10, privateKey: priv2.export({ type: 'pkcs8', format: 'pem' }) as string } } });
    const e2 = (await slow.listReleases('acme/secret').catch((e: unknown) => e)) as GitHubError;
    expect(e2.status).toBe(401);
    expect(e2.message).toMatch(/Expiration time/);
    expect(gh.issuedTokens).toEqual([]);
    await expect(importAppKey('not a key')).rejects.toThrow(/not a PEM RSA private key/);
  });

  it('resolves a private asset to a signed URL on the asset host and reads ranges of it without Authorization', async () => {
    const c = client({ credentials: { token: 'ghp_reader' } });
    const [release] = (await c.listReleases('acme/secret')).releases;
    const asset = release!.assets[0]!;
    const url = await c.assetUrl(asset);
    expect(new URL(url).origin).toBe(gh.assetUrl);
    const apiCall = rec.calls.at(-1)!;
    expect(apiCall.url).toBe(asset.url);
    expect(apiCall.authorization).toBe('Bearer ghp_reader');
    const expected = bytes(5000, 9);
    const head = await c.readRange(url, 0, 8);
    expect(head).toEqual({ bytes: expected.subarray(0, 8), total: 5000 });
    const mid = await c.readRange(url, 4000, 500);
    expect(mid.bytes).toEqual(expected.subarray(4000, 4500));
    const end = await c.readRange(url, 4990, 100); // only 10 remain
    expect(end.bytes).toEqual(expected.subarray(4990));
    await expect(c.readRange(url, 6000, 10)).rejects.toThrow(/beyond the end/);
    // The signed URL is reused: no second API request.
    const apiRequests = gh.stats.apiRequests;
    expect(await c.assetUrl(asset)).toBe(url);
    expect(gh.stats.apiRequests).toBe(apiRequests);
    // The calls to the asset host carried no Authorization (checked on the server too, after each test).
    expect(rec.calls.filter((call) => call.url.startsWith(gh.assetUrl)).map((call) => call.authorization)).toEqual([null, null, null, null]);
    const whole = await c.openAsset(url);
    expect(whole.size).toBe(5000);
    expect(new Uint8Array(await new Response(whole.body).arrayBuffer())).toEqual(expected);
  });

  it('resolves a public asset through browser_download_url (no API call), and refreshes an expired signed URL', async () => {
    let clock = Date.now();
    const timed = await startGitHubStandin({ now: () => clock, signedUrlTtl: 300 });
    try {
      timed.addRepo('acme/pub');
      const r = timed.addRelease('acme/pub', { tag: 'v1', assets: [{ name: 'p_1_all.deb', bytes: bytes(300, 3) }] });
      const c = new GitHubClient({ apiUrl: timed.apiUrl, fetch: rec.fetch, now: () => clock });
      const [release] = (await c.listReleases('acme/pub')).releases;
      const asset = release!.assets[0]!;
      expect(asset.id).toBe(r.assets[0]!.id);
      const counted = timed.stats.counted;
      const url = await c.assetUrl(asset);
      expect(new URL(url).origin).toBe(timed.assetUrl);
      expect(timed.stats.counted).toBe(counted);
      expect((await c.readAssetRange(asset, 0, 4)).bytes).toEqual(bytes(300, 3).subarray(0, 4));
      // Cached for less than its life: after 4 minutes a new one is asked for.
      clock += 4 * 60_000 + 1000;
      const fresh = await c.assetUrl(asset);
      expect(fresh).not.toBe(url);
      // A URL the host refuses (expired under the cache) is replaced once by readAssetRange.
      timed.signedUrlTtl = 120; // expiry - 90 s margin: cached for 30 s
      clock += 4 * 60_000 + 1000;
      const short = await c.assetUrl(asset);
      expect(signedUrlExpiry(short)! - clock).toBeLessThanOrEqual(120_000);
      clock += 20_000; // still in the cache (30 s), and still valid
      expect(await c.assetUrl(asset)).toBe(short);
      expect((await c.readAssetRange(asset, 296, 4)).bytes).toEqual(bytes(300, 3).subarray(296));
    } finally {
      await timed.close();
    }
  });

  it('never follows a redirect from https to http, and sends no token to another origin', async () => {
    const calls: { url: string; authorization: string | null }[] = [];
    const fake: typeof fetch = async (input, init) => {
      const req = new Request(input, init);
      calls.push({ url: req.url, authorization: req.headers.get('authorization') });
      if (req.url.startsWith('https://api.example/repos/a/b/releases/assets/1')) return new Response(null, { status: 302, headers: { location: 'http://assets.example/x?expires=1' } });
      if (req.url.startsWith('https://api.example/repos/a/b/releases')) return new Response('[]', { status: 301, headers: { location: 'http://api.example/repos/a/b/releases' } });
      if (req.url.startsWith('https://files.example/')) return new Response(null, { status: 302, headers: { location: 'http://files.example/plain' } });
      return new Response('no', { status: 500 });
    };
    const c = new GitHubClient({ apiUrl: 'https://api.example', fetch: fake, credentials: { token: 't' } });
    const asset = { id: 1, url: 'https://api.example/repos/a/b/releases/assets/1', browser_download_url: 'https://files.example/a/b/1' };
    await expect(c.assetUrl(asset)).rejects.toThrow(/https to http/);
    await expect(c.listReleases('a/b')).rejects.toThrow(/https to http/);
    await expect(c.readRange('https://files.example/signed', 0, 10)).rejects.toThrow(/https to http/);
    await expect(c.assetUrl(asset, { private: false })).rejects.toThrow(/https to http/);
    expect(calls.some((call) => call.url.startsWith('http:'))).toBe(false);
    expect(calls.filter((call) => !call.url.startsWith('https://api.example/')).every((call) => call.authorization === null)).toBe(true);
    await expect(c.assetUrl({ ...asset, url: 'https://evil.example/steal' })).rejects.toThrow(/not on https:\/\/api.example/);
  });

  it('names the host when it gets no answer at all (a GitHubError, status 0, not an internal error)', async () => {
    // What workerd throws when its outbound network may not connect to an address.
    const refused: typeof fetch = async () => {
      throw new Error('internal error; reference = 33r2jliq045d0meq0u1ocmge');
    };
    const c = new GitHubClient({ apiUrl: 'http://10.1.2.3:8443', fetch: refused });
    const err = await c.listReleases('a/b').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitHubError);
    expect((err as GitHubError).status).toBe(0);
    expect((err as GitHubError).message).toMatch(/^no answer from http:\/\/10\.1\.2\.3:8443: internal error/);
  });
});

describe('small parts', () => {
  it('parses Link headers', () => {
    const links = parseLinks('<https://api.github.com/repositories/1/releases?per_page=2&page=2>; rel="next", <https://api.github.com/repositories/1/releases?per_page=2&page=5>; rel="last"', 'https://api.github.com/x');
    expect(links).toEqual({ next: 'https://api.github.com/repositories/1/releases?per_page=2&page=2', last: 'https://api.github.com/repositories/1/releases?per_page=2&page=5' });
    expect(parseLinks('</a?x=1>; rel=next; title="a, b", <b>; rel="prev first"', 'https://h/base/')).toEqual({ next: 'https://h/a?x=1', prev: 'https://h/base/b', first: 'https://h/base/b' });
    expect(parseLinks(null, 'https://h/')).toEqual({});
  });

  it('reads signed URLs’ expiry', () => {
    expect(signedUrlExpiry('https://x/a?expires=1700000000&sig=ab')).toBe(1_700_000_000_000);
    expect(signedUrlExpiry('https://x/a?se=2025-08-01T10%3A05%3A00Z&sig=x')).toBe(Date.parse('2025-08-01T10:05:00Z'));
    expect(signedUrlExpiry('https://x/a?X-Amz-Date=20250801T100000Z&X-Amz-Expires=300')).toBe(Date.parse('2025-08-01T10:05:00Z'));
    expect(signedUrlExpiry('https://x/a')).toBeUndefined();
  });
});
