// A small client for the parts of GitHub's REST API that a release source needs: list releases
// (following `Link` rel="next", conditional on each page's ETag, so an unchanged listing costs no
// rate limit), resolve an asset to a signed download URL (never carrying the token past the
// redirect), and read byte ranges of it. Web-standard only (fetch, Web Crypto, jose): it runs in
// the Worker as in Node.
//
// Rate limits: every answer's `X-RateLimit-*` is kept (`rateLimit`); a refusal (403/429 with
// remaining 0, or Retry-After) throws GitHubRateLimitError saying when to retry, and until then
// the client refuses to ask again (no request is sent), so a caller cannot hammer GitHub.
//
// Redirects are followed by hand (`redirect: 'manual'`): never from https to http, and the
// Authorization header goes only to the API's own origin. The GitHub Releases source
// (sync.ts, source.ts) works through it.
import { Lru } from '../../util/lru.js';
import { GitHubAuth, type GitHubCredentials, type TokenCache } from './auth.js';
import { GitHubError, GitHubRateLimitError, githubMessage } from './errors.js';
import { parseLinks } from './link.js';
import { parseRateLimit, rateLimitRefusal, type RateLimit } from './rate-limit.js';
import type { z } from 'zod';
import { checkRepoName, releaseSchema, repositorySchema, tagSchema, type GitHubAsset, type GitHubRelease, type GitHubRepository, type GitHubTag } from './types.js';

export { GitHubError, GitHubRateLimitError } from './errors.js';
export type { GitHubCredentials, GitHubAppCredentials, TokenCache, InstallationToken } from './auth.js';
export type { RateLimit } from './rate-limit.js';
export type { GitHubAsset, GitHubRelease, GitHubRepository, GitHubTag } from './types.js';
export { assetSha256 } from './types.js';

const GITHUB_API_URL = 'https://api.github.com';
/** Signed asset URLs live about 5 minutes; keep them for less. */
const DEFAULT_SIGNED_URL_TTL_MS = 4 * 60_000;
const MAX_REDIRECTS = 5;

/** One page of a listing as last seen: its ETag, its (validated) body and its `next` link. */
export interface CachedPage {
  etag: string;
  body: unknown;
  next?: string;
}

/**
 * Where page ETags and bodies are kept between listings. Keys are URLs: a cache belongs to one
 * set of credentials (a token sees private releases an anonymous client does not).
 */
export interface PageCache {
  get(url: string): Promise<CachedPage | undefined> | CachedPage | undefined;
  set(url: string, page: CachedPage): Promise<void> | void;
}

function memoryPageCache(pages = 256): PageCache {
  const lru = new Lru<string, CachedPage>(pages);
  return { get: (url) => lru.get(url), set: (url, page) => lru.set(url, page) };
}

export interface GitHubClientOptions {
  /** Default https://api.github.com; GitHub Enterprise Server: https://HOST/api/v3. */
  apiUrl?: string;
  credentials?: GitHubCredentials;
  fetch?: typeof fetch;
  /** ms since the epoch. */
  now?: () => number;
  /** Releases per page, 1–100 (default 100). */
  perPage?: number;
  pageCache?: PageCache;
  tokenCache?: TokenCache;
  /** How long a signed asset URL is reused at most (less if the URL says it expires sooner). */
  signedUrlTtlMs?: number;
  userAgent?: string;
}

export interface ListReleasesResult {
  /** Newest first, as GitHub lists them; drafts removed. Shared with the page cache: do not mutate. */
  releases: GitHubRelease[];
  /** The last rate-limit state seen (a 304 may carry none: then the one before). */
  rateLimit: RateLimit | undefined;
  /** Pages fetched, and how many of them were 304 (reused from the cache, free). */
  pages: number;
  notModified: number;
}

export interface RangeRead {
  bytes: Uint8Array;
  /** The asset's whole size, from Content-Range (undefined if the server said `*`). */
  total: number | undefined;
}

interface SignedUrl {
  url: string;
  until: number;
}

/** When a signed URL says it expires (`expires=` unix s, Azure `se=`, S3 `X-Amz-Date`+`X-Amz-Expires`). */
export function signedUrlExpiry(url: string): number | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const p = u.searchParams;
  const expires = p.get('expires') ?? p.get('Expires');
  if (expires && /^\d+$/.test(expires)) return Number(expires) * 1000;
  const se = p.get('se');
  if (se && !Number.isNaN(Date.parse(se))) return Date.parse(se);
  const amzDate = p.get('X-Amz-Date');
  const amzExpires = p.get('X-Amz-Expires');
  const m = amzDate ? /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate) : null;
  if (m && amzExpires && /^\d+$/.test(amzExpires)) return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) + Number(amzExpires) * 1000;
  return undefined;
}

/** The absolute target of a redirect, refusing a downgrade from https to http. */
function redirectTarget(from: string, location: string | null, status: number): string {
  if (!location) throw new GitHubError(status, `a ${status} from ${from} without a Location`, from);
  let target: URL;
  try {
    target = new URL(location, from);
  } catch {
    throw new GitHubError(status, `a ${status} from ${from} to an invalid Location`, from);
  }
  if (target.protocol !== 'https:' && target.protocol !== 'http:') throw new GitHubError(0, `refusing a redirect from ${from} to ${target.protocol} URL`, from);
  if (new URL(from).protocol === 'https:' && target.protocol === 'http:') throw new GitHubError(0, `refusing a redirect from https to http (${from} → ${target.origin})`, from);
  return target.toString();
}

const isRedirect = (status: number) => status === 301 || status === 302 || status === 303 || status === 307 || status === 308;

async function errorMessage(res: Response): Promise<string> {
  return githubMessage(await res.text().catch(() => ''), res.statusText);
}

export class GitHubClient {
  readonly apiUrl: string;
  private readonly apiOrigin: string;
  private readonly fetch: typeof fetch;
  private readonly now: () => number;
  private readonly perPage: number;
  private readonly pageCache: PageCache;
  private readonly signedUrlTtlMs: number;
  private readonly headers: Record<string, string>;
  private readonly auth: GitHubAuth;
  private readonly signed = new Lru<string, SignedUrl>(1024);
  private blocked?: GitHubRateLimitError;
  private lastRateLimit?: RateLimit;

  constructor(opts: GitHubClientOptions = {}) {
    this.apiUrl = (opts.apiUrl ?? GITHUB_API_URL).replace(/\/+$/, '');
    this.apiOrigin = new URL(this.apiUrl).origin;
    this.fetch = opts.fetch ?? ((input, init) => fetch(input, init));
    this.now = opts.now ?? Date.now;
    this.perPage = Math.min(100, Math.max(1, Math.floor(opts.perPage ?? 100)));
    this.pageCache = opts.pageCache ?? memoryPageCache();
    this.signedUrlTtlMs = opts.signedUrlTtlMs ?? DEFAULT_SIGNED_URL_TTL_MS;
    this.headers = {
      Accept: 'application/vnd.github+json',
      'X-GitHub-Api-Version': '2022-11-28',
      'User-Agent': opts.userAgent ?? 'packyard',
    };
    this.auth = new GitHubAuth({ apiUrl: this.apiUrl, credentials: opts.credentials, fetch: this.fetch, now: this.now, tokenCache: opts.tokenCache, headers: this.headers });
  }

  /** The last `X-RateLimit-*` state GitHub sent. */
  get rateLimit(): RateLimit | undefined {
    return this.lastRateLimit;
  }

  /** App installation tokens fetched so far. */
  get tokenExchanges(): number {
    return this.auth.exchanges;
  }

  /**
   * An API request: Authorization only to the API's origin, redirects by hand (no https→http),
   * the rate limit noted, a refusal thrown as GitHubRateLimitError (and remembered: until its
   * time no request is sent). A 401 with App credentials retries once with a fresh token.
   */
  private async api(url: string, headers: Record<string, string> = {}, opts: { followRedirects?: boolean } = {}): Promise<Response> {
    if (this.blocked && this.now() < this.blocked.retryAt.getTime()) {
      const b = this.blocked;
      throw new GitHubRateLimitError(b.kind, b.retryAt, b.rateLimit, url, 'not asking again before then', this.now());
    }
    const rl = this.lastRateLimit;
    if (rl && rl.remaining <= 0 && rl.reset.getTime() > this.now()) throw new GitHubRateLimitError('primary', rl.reset, rl, url, 'the last answer said none remain', this.now());
    for (let attempt = 0; ; attempt++) {
      const { res } = await this.follow(
        url,
        async (target) => {
          // The token goes to the API's own origin only, never to where it redirects.
          const authorization = new URL(target).origin === this.apiOrigin ? await this.auth.authorization() : undefined;
          return { ...this.headers, ...headers, ...(authorization ? { Authorization: authorization } : {}) };
        },
        (answer) => {
          const rl = parseRateLimit(answer.headers);
          if (rl) this.lastRateLimit = rl;
        },
        opts.followRedirects === false,
      );
      const refusal = rateLimitRefusal(res, this.now());
      if (refusal) {
        await res.body?.cancel();
        this.blocked = new GitHubRateLimitError(refusal.kind, refusal.retryAt, refusal.rateLimit, url, '', this.now());
        throw this.blocked;
      }
      if (res.status === 401 && this.auth.isApp && attempt === 0) {
        await res.body?.cancel();
        await this.auth.invalidate();
        continue;
      }
      return res;
    }
  }

  private async failure(res: Response, url: string, what: string): Promise<never> {
    const message = await errorMessage(res);
    const hint =
      res.status === 404
        ? this.auth.hasCredentials
          ? ' (or the credentials do not reach it)'
          : ' (a private repository answers 404 without a token)'
        : res.status === 401
          ? ' (bad or expired credentials)'
          : '';
    throw new GitHubError(res.status, `GitHub: ${what}: ${res.status} ${message}${hint}`, url);
  }

  /** A conditional GET of a JSON document through the page cache; parse validates a fresh body. */
  private async conditional<T>(url: string, what: string, parse: (body: unknown) => T): Promise<{ body: T; next?: string; notModified: boolean }> {
    const cached = await this.pageCache.get(url);
    const res = await this.api(url, cached ? { 'If-None-Match': cached.etag } : {});
    if (res.status === 304 && cached) {
      await res.body?.cancel();
      return { body: cached.body as T, next: cached.next, notModified: true };
    }
    if (res.status !== 200) return this.failure(res, url, what);
    let json: unknown;
    try {
      json = await res.json();
    } catch {
      throw new GitHubError(res.status, `GitHub: ${what}: the answer is not JSON`, url);
    }
    let body: T;
    try {
      body = parse(json);
    } catch (err) {
      throw new GitHubError(res.status, `GitHub: ${what}: unexpected answer: ${(err as Error).message.slice(0, 300)}`, url);
    }
    const next = parseLinks(res.headers.get('link'), url).next;
    if (next && new URL(url).protocol === 'https:' && new URL(next).protocol !== 'https:') throw new GitHubError(0, `GitHub: ${what}: refusing a next page over http`, url);
    const etag = res.headers.get('etag');
    if (etag) await this.pageCache.set(url, { etag, body, ...(next ? { next } : {}) });
    return { body, ...(next ? { next } : {}), notModified: false };
  }

  /** The repository (visibility: `private`). */
  async getRepository(repo: string): Promise<GitHubRepository> {
    const { owner, name } = checkRepoName(repo);
    const url = `${this.apiUrl}/repos/${owner}/${name}`;
    return (await this.conditional(url, `repository ${repo}`, (b) => repositorySchema.parse(b))).body;
  }

  /**
   * Every release of `repo`, following `Link` rel="next" (the first URL is the only one built).
   * Each page is asked for with its last ETag: an unchanged page is a free 304 and its cached
   * body is reused.
   */
  async listReleases(repo: string): Promise<ListReleasesResult> {
    const { owner, name } = checkRepoName(repo);
    const listed = await this.listAll(`${this.apiUrl}/repos/${owner}/${name}/releases?per_page=${this.perPage}`, `releases of ${repo}`, releaseSchema, (r) => r.id);
    return { ...listed, releases: listed.items.filter((r) => !r.draft) };
  }

  /** Every tag of `repo` (newest first, as GitHub lists them), by the same conditional, linked pages. */
  async listTags(repo: string): Promise<{ tags: GitHubTag[]; rateLimit: RateLimit | undefined; pages: number; notModified: number }> {
    const { owner, name } = checkRepoName(repo);
    const listed = await this.listAll(`${this.apiUrl}/repos/${owner}/${name}/tags?per_page=${this.perPage}`, `tags of ${repo}`, tagSchema, (t) => t.name);
    return { ...listed, tags: listed.items };
  }

  /**
   * Every item of a listing, following `Link` rel="next" (the first URL is the only one built).
   * Each page is asked for with its last ETag: an unchanged page is a free 304 and its cached
   * body is reused. An item listed twice (pages shifted while listing) is kept once.
   */
  private async listAll<T>(first: string, what: string, schema: z.ZodType<T>, idOf: (item: T) => unknown): Promise<{ items: T[]; rateLimit: RateLimit | undefined; pages: number; notModified: number }> {
    let url: string | undefined = first;
    const items: T[] = [];
    const seen = new Set<unknown>();
    const visited = new Set<string>();
    let pages = 0;
    let notModified = 0;
    while (url) {
      if (visited.has(url)) throw new GitHubError(0, `GitHub: ${what}: the Link header loops back to ${url}`, url);
      visited.add(url);
      const page: { body: T[]; next?: string; notModified: boolean } = await this.conditional(url, what, (b) => schema.array().parse(b));
      pages++;
      if (page.notModified) notModified++;
      for (const item of page.body) if (!seen.has(idOf(item))) (seen.add(idOf(item)), items.push(item));
      url = page.next;
    }
    return { items, rateLimit: this.lastRateLimit, pages, notModified };
  }

  /**
   * A URL that serves the asset's bytes without credentials: for a private repository the
   * signed URL the assets API redirects to (asked with `Accept: application/octet-stream` and
   * `redirect: 'manual'`, its Location read); for a public one, where `browser_download_url`
   * redirects (not an API call: no rate limit). Kept for less than the URL's life.
   * `private` defaults to whether the client has credentials.
   */
  async assetUrl(asset: Pick<GitHubAsset, 'id' | 'url' | 'browser_download_url'>, opts: { private?: boolean } = {}): Promise<string> {
    const isPrivate = opts.private ?? this.auth.hasCredentials;
    const key = `${isPrivate ? 'api' : 'browser'}:${isPrivate ? asset.url : asset.browser_download_url}`;
    const cached = this.signed.get(key);
    if (cached && cached.until > this.now()) return cached.url;
    let location: string;
    if (isPrivate) {
      if (new URL(asset.url).origin !== this.apiOrigin) throw new GitHubError(0, `the asset's API URL ${asset.url} is not on ${this.apiOrigin}`, asset.url);
      const res = await this.api(asset.url, { Accept: 'application/octet-stream' }, { followRedirects: false });
      if (!isRedirect(res.status)) {
        if (res.status === 200) {
          await res.body?.cancel();
          throw new GitHubError(200, `GitHub served asset ${asset.id} itself instead of redirecting to a signed URL`, asset.url);
        }
        return this.failure(res, asset.url, `asset ${asset.id}`);
      }
      await res.body?.cancel();
      location = redirectTarget(asset.url, res.headers.get('location'), res.status);
    } else {
      const res = await this.fetch(asset.browser_download_url, { headers: { 'User-Agent': this.headers['User-Agent']! }, redirect: 'manual' });
      await res.body?.cancel();
      if (!isRedirect(res.status)) {
        if (res.status === 200) location = asset.browser_download_url;
        else throw new GitHubError(res.status, `GitHub: download of asset ${asset.id}: ${res.status}${res.status === 404 ? ' (a private repository needs credentials)' : ''}`, asset.browser_download_url);
      } else {
        location = redirectTarget(asset.browser_download_url, res.headers.get('location'), res.status);
      }
    }
    const expiry = signedUrlExpiry(location);
    // Kept while it has well over a minute to live: a client may reuse the redirect for 60 s.
    const until = Math.min(this.now() + this.signedUrlTtlMs, expiry !== undefined ? expiry - 90_000 : Infinity);
    if (until > this.now()) this.signed.set(key, { url: location, until });
    return location;
  }

  /** Forgets the cached signed URL of an asset (after the asset host refused it). */
  forgetAssetUrl(asset: Pick<GitHubAsset, 'url' | 'browser_download_url'>): void {
    this.signed.delete(`api:${asset.url}`);
    this.signed.delete(`browser:${asset.browser_download_url}`);
  }

  /** A GET without any Authorization header (for signed URLs), redirects by hand. */
  private fetchUnauthenticated(url: string, headers: Record<string, string>): Promise<{ res: Response; url: string }> {
    return this.follow(url, () => ({ 'User-Agent': this.headers['User-Agent']!, ...headers }));
  }

  /**
   * GETs `url`, following redirects by hand (never https→http) with the headers `headersFor`
   * gives each hop; `seen` is told of every answer; `stopAtRedirect` returns the first.
   */
  private async follow(url: string, headersFor: (target: string) => Record<string, string> | Promise<Record<string, string>>, seen?: (res: Response) => void, stopAtRedirect = false): Promise<{ res: Response; url: string }> {
    let target = url;
    for (let hops = 0; ; hops++) {
      const res = await this.fetch(target, { headers: await headersFor(target), redirect: 'manual' }).catch((err: unknown) => {
        // No answer at all (refused, DNS, a runtime that may not connect there): say which host.
        throw new GitHubError(0, `no answer from ${new URL(target).origin}: ${err instanceof Error ? err.message : String(err)}`, target);
      });
      seen?.(res);
      if (!isRedirect(res.status) || stopAtRedirect) return { res, url: target };
      if (hops >= MAX_REDIRECTS) throw new GitHubError(res.status, `too many redirects from ${url}`, url);
      await res.body?.cancel();
      target = redirectTarget(target, res.headers.get('location'), res.status);
    }
  }

  /**
   * `length` bytes at `offset` of a (signed) URL, with a ranged GET that carries no
   * Authorization. Insists on a 206 whose Content-Range starts at `offset`; fewer bytes come
   * back only at the asset's end. Reads no more than asked.
   */
  async readRange(url: string, offset: number, length: number): Promise<RangeRead> {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 1) throw new RangeError(`bad range: offset ${offset}, length ${length}`);
    const last = offset + length - 1;
    const { res, url: final } = await this.fetchUnauthenticated(url, { Range: `bytes=${offset}-${last}`, 'Accept-Encoding': 'identity' });
    if (res.status !== 206) {
      await res.body?.cancel();
      const why =
        res.status === 200 ? 'the server ignored the Range header' : res.status === 416 ? `the range starts beyond the end (${res.headers.get('content-range') ?? ''})` : res.status === 403 ? 'the signed URL was refused (expired?)' : `status ${res.status}`;
      throw new GitHubError(res.status, `ranged read of bytes ${offset}-${last} of ${new URL(final).origin}${new URL(final).pathname}: ${why}`, final);
    }
    const cr = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
    const start = cr ? Number(cr[1]) : NaN;
    const end = cr ? Number(cr[2]) : NaN;
    const total = cr && cr[3] !== '*' ? Number(cr[3]) : undefined;
    const bad = (why: string) => new GitHubError(206, `ranged read of bytes ${offset}-${last}: ${why}`, final);
    if (!cr || start !== offset || end < start || end > last || (end < last && total !== undefined && end !== total - 1) || (total !== undefined && end >= total)) {
      await res.body?.cancel();
      throw bad(`unexpected Content-Range ${JSON.stringify(res.headers.get('content-range'))}`);
    }
    const want = end - start + 1;
    const bytes = new Uint8Array(want);
    let got = 0;
    const reader = res.body?.getReader();
    if (!reader) throw bad('no body');
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (got + value.length > want) throw bad(`more bytes than Content-Range says (${want})`);
        bytes.set(value, got);
        got += value.length;
      }
    } catch (err) {
      await reader.cancel().catch(() => undefined);
      throw err;
    }
    if (got !== want) throw bad(`${got} bytes where Content-Range says ${want}`);
    return { bytes, total };
  }

  /**
   * `readRange` on an asset: its signed URL (cached), asked again once if the asset host
   * refuses it (a URL expired between the two).
   */
  async readAssetRange(asset: Pick<GitHubAsset, 'id' | 'url' | 'browser_download_url'>, offset: number, length: number, opts: { private?: boolean } = {}): Promise<RangeRead> {
    try {
      return await this.readRange(await this.assetUrl(asset, opts), offset, length);
    } catch (err) {
      if (!(err instanceof GitHubError) || err.status !== 403) throw err;
      this.forgetAssetUrl(asset);
      return this.readRange(await this.assetUrl(asset, opts), offset, length);
    }
  }

  /** The whole asset as a stream (to hash an asset without a digest), no Authorization sent. */
  async openAsset(url: string): Promise<{ body: ReadableStream<Uint8Array>; size: number | undefined }> {
    const { res, url: final } = await this.fetchUnauthenticated(url, { 'Accept-Encoding': 'identity' });
    if (res.status !== 200 || !res.body) {
      await res.body?.cancel();
      throw new GitHubError(res.status, `download of ${new URL(final).origin}${new URL(final).pathname}: status ${res.status}`, final);
    }
    const length = res.headers.get('content-length');
    return { body: res.body, size: length !== null && /^\d+$/.test(length) ? Number(length) : undefined };
  }

  /**
   * A GET of an asset's (signed or public) URL for a client's request, passed through as GitHub's
   * asset host answers it (a `Range` is forwarded): no Authorization sent, redirects by hand.
   */
  async fetchAsset(url: string, range?: string): Promise<Response> {
    return (await this.fetchUnauthenticated(url, { 'Accept-Encoding': 'identity', ...(range ? { Range: range } : {}) })).res;
  }
}
