// A faithful local stand-in for GitHub's REST API and its release-asset host, as two real HTTP
// servers on 127.0.0.1 (DESIGN "Testing with real peers": fake only what cannot exist here, and
// then as a server, not as mocked functions). What it models, as github.com does it:
//
// - `GET /repos/{o}/{r}` and `GET /repos/{o}/{r}/releases?per_page=N` (default 30, max 100),
//   newest first, paginated by a `Link` header (`next`, `last`, `prev`, `first`) whose page
//   parameter is opaque (`cursor=`): a client must follow the links, it cannot build them.
//   Drafts are listed only to a token that can push (`addToken(t, repos, { push: true })`);
//   App installation tokens here read only, so they never see drafts.
// - `ETag` on every answer; `If-None-Match` naming the current one → 304, which does not count
//   against the rate limit. `X-RateLimit-Limit/Remaining/Used/Reset/Resource` on every API
//   answer; at exhaustion 403 `API rate limit exceeded` with `x-ratelimit-remaining: 0`. A
//   secondary limit can be armed (`secondaryLimit()`): 403 (or 429) with `Retry-After`.
//   One bucket per credential (each token, each App installation token) plus one anonymous one.
// - Credentials `Authorization: Bearer X` or `token X`. An unknown or expired token is 401 `Bad
//   credentials` (as GitHub answers any request with one); a private repository is 404 without a
//   token, or with one that does not reach it.
// - `GET /repos/{o}/{r}/releases/assets/{id}`: JSON, or with `Accept: application/octet-stream`
//   302 to a signed URL on the asset host (expiry `expires=` unix seconds, default 300 s, and
//   `sig=` HMAC-SHA256 over path + "\n" + expiry). A public repository's `browser_download_url`
//   (`/{o}/{r}/releases/download/{tag}/{name}`, not rate limited) answers the same 302; a private
//   one's 404 (it needs a browser session on github.com).
// - The asset host serves bytes with `Range: bytes=a-b|a-|-n` (206 + `Content-Range`, 416 when
//   unsatisfiable), HEAD too; 403 for an expired or forged signature; 400 for any request that
//   carries an `Authorization` header (as S3 does for presigned URLs). `stats.assetCut` counts
//   answers whose reader went away before the end (a proxy that stopped pulling closes them).
// - `POST /app/installations/{id}/access_tokens` with `Authorization: Bearer <JWT>`: RS256 by the
//   App's key, `iss` = app id, `iat` at most 60 s ahead, `exp` passed-not and ≤ iat + 600 → 201
//   `{token, expires_at}` (1 hour), a token for the installation's repositories. Else 401.
// - `signWebhook(secret, body)`: `X-Hub-Signature-256` as GitHub computes it.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { importSPKI, jwtVerify, decodeJwt, type CryptoKey, type KeyObject } from 'jose';

export interface AssetInput {
  name: string;
  bytes: Uint8Array;
  /** Default: by extension (`.deb`, `.rpm`), else application/octet-stream. */
  contentType?: string;
  /** true (default): GitHub's `sha256:<hex>` of the bytes; false: null, as on assets uploaded before mid-2025. */
  digest?: boolean;
  label?: string | null;
}

export interface ReleaseInput {
  tag: string;
  name?: string | null;
  body?: string | null;
  draft?: boolean;
  prerelease?: boolean;
  /** Default: now. Drafts have none. */
  publishedAt?: Date;
  assets?: AssetInput[];
}

export interface StoredAsset {
  id: number;
  name: string;
  label: string | null;
  contentType: string;
  bytes: Uint8Array;
  digest: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface StoredRelease {
  id: number;
  tag: string;
  name: string | null;
  body: string | null;
  draft: boolean;
  prerelease: boolean;
  createdAt: Date;
  publishedAt: Date | null;
  assets: StoredAsset[];
}

export interface StoredRepo {
  id: number;
  owner: string;
  name: string;
  private: boolean;
  /** Newest last (listed newest first). */
  releases: StoredRelease[];
  /** Newest last (listed newest first); each tag's tarball is served like an asset. */
  tags: StoredTag[];
}

export interface StoredTag {
  name: string;
  sha: string;
  /** The asset id its tarball is kept under (not in any release). */
  tarball: number;
}

export interface RequestLog {
  host: 'api' | 'assets';
  method: string;
  /** Path and query. */
  url: string;
  status: number;
  authorization?: string;
  range?: string;
  ifNoneMatch?: string;
  /** Whether it counted against a primary rate limit. */
  counted: boolean;
}

export interface StandinStats {
  /** Requests to the API server (all of them, 304s and refusals too). */
  apiRequests: number;
  /** Those that counted against a primary rate limit. */
  counted: number;
  /** 304 answers. */
  notModified: number;
  /** Answers refused for a (primary or secondary) rate limit. */
  rateLimited: number;
  /** Requests to the asset host, and the body bytes it sent. */
  assetRequests: number;
  assetBytes: number;
  /** Asset-host requests refused because they carried Authorization. */
  assetAuthRefused: number;
  /** Asset-host answers whose connection closed before the whole body was sent (the reader went away). */
  assetCut: number;
  log: RequestLog[];
}

export interface AppInput {
  id: number;
  /** The App's public key (the tests keep the private one). SPKI PEM, a CryptoKey or a KeyObject. */
  publicKey: string | CryptoKey | KeyObject;
  /** Installation id → the repositories (`owner/name`) it is installed on. */
  installations: Record<number, string[]>;
}

export interface StandinOptions {
  /** Primary limit per hour: default 60 anonymous, 5000 with a token. */
  anonymousLimit?: number;
  tokenLimit?: number;
  /** Life of signed asset URLs, seconds. Default 300. */
  signedUrlTtl?: number;
  /** The stand-in's clock (ms since the epoch). Default Date.now. */
  now?: () => number;
  /**
   * The API's port (default: any free one). Stored data names the API's URLs (a synced
   * repository's settings and remote pool entries): a stand-in for the same GitHub takes the port back.
   */
  apiPort?: number;
}

export interface GitHubStandin {
  /** http://127.0.0.1:PORT: the API (and the `browser_download_url` host, as github.com is). */
  readonly apiUrl: string;
  /** http://127.0.0.1:PORT2: where signed URLs point. */
  readonly assetUrl: string;
  readonly stats: StandinStats;
  resetStats(): void;
  /** Life of newly signed asset URLs, seconds. */
  signedUrlTtl: number;
  addRepo(fullName: string, opts?: { private?: boolean }): StoredRepo;
  repo(fullName: string): StoredRepo;
  /** Adds a release (newest); ids are assigned. */
  addRelease(fullName: string, release: ReleaseInput): StoredRelease;
  removeRelease(fullName: string, tag: string): void;
  /** Adds a tag whose tarball (`GET /repos/{o}/{r}/tarball/{tag}`) is these bytes. */
  addTag(fullName: string, tag: { name: string; tarball: Uint8Array }): StoredTag;
  removeTag(fullName: string, name: string): void;
  /** Replaces an asset's bytes (and digest, unless `digest: false` keeps it, as a stale digest would). */
  replaceAssetBytes(assetId: number, bytes: Uint8Array, opts?: { digest?: 'update' | 'keep' | 'null' }): void;
  /** A personal access token reaching these repositories (`*`: all). */
  addToken(token: string, repos: string[] | '*', opts?: { push?: boolean }): void;
  revokeToken(token: string): void;
  addApp(app: AppInput): Promise<void>;
  /** Installation tokens issued so far. */
  readonly issuedTokens: { token: string; installationId: number; expiresAt: Date }[];
  /** Sets what remains of a credential's primary limit (`anonymous`, or the token). */
  setRemaining(credential: string, remaining: number): void;
  /** The next `count` API requests are refused by a secondary limit with Retry-After. */
  secondaryLimit(opts: { retryAfter: number; count?: number; status?: 403 | 429 }): void;
  /** A URL on the asset host signed for `assetId`, expiring in `ttl` seconds (negative: already expired). */
  signAssetUrl(assetId: number, ttl?: number): string;
  close(): Promise<void>;
}

const DOCS = 'https://docs.github.com/rest';
/** The asset host writes bodies in pieces of this size. */
const ASSET_PIECE = 1 << 20;
const CONTENT_TYPES: Record<string, string> = {
  '.deb': 'application/vnd.debian.binary-package',
  '.rpm': 'application/x-rpm',
  '.gz': 'application/gzip',
  '.txt': 'text/plain',
};

function contentTypeOf(name: string): string {
  const ext = name.slice(name.lastIndexOf('.'));
  return CONTENT_TYPES[ext] ?? 'application/octet-stream';
}

function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** GitHub's webhook signature: the value of `X-Hub-Signature-256` for this raw body. */
export function signWebhook(secret: string, body: string | Uint8Array): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
}

/** Headers GitHub sends with a webhook delivery of `event` (body signed with `secret`). */
export function webhookHeaders(secret: string, event: string, body: string | Uint8Array): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': 'GitHub-Hookshot/standin',
    'x-github-event': event,
    'x-github-delivery': crypto.randomUUID(),
    'x-github-hook-id': '1',
    'x-hub-signature-256': signWebhook(secret, body),
  };
}

interface Bucket {
  limit: number;
  remaining: number;
  reset: number; // unix seconds
}

interface Principal {
  /** The rate-limit bucket's name. */
  key: string;
  /** Repositories reached (`*`: all); anonymous: none private. */
  repos: Set<string> | '*';
  /** Whether it may push to the repositories it reaches (then it sees drafts). */
  push: boolean;
}

function listen(server: Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The ETag values of an If-None-Match header, weakness ignored (GitHub compares weakly). */
function etagsOf(header: string | undefined): string[] {
  if (!header) return [];
  return header.split(',').map((t) => t.trim().replace(/^W\//, ''));
}

export async function startGitHubStandin(options: StandinOptions = {}): Promise<GitHubStandin> {
  const now = options.now ?? Date.now;
  const nowSec = () => Math.floor(now() / 1000);
  const anonymousLimit = options.anonymousLimit ?? 60;
  const tokenLimit = options.tokenLimit ?? 5000;
  const signingKey = randomBytes(32);

  const repos = new Map<string, StoredRepo>(); // lower-case full name
  const assets = new Map<number, { repo: StoredRepo; release: StoredRelease; asset: StoredAsset }>();
  const tokens = new Map<string, { repos: Set<string> | '*'; push?: boolean; expiresAt?: number }>();
  const apps = new Map<number, { app: AppInput; key: CryptoKey | KeyObject }>();
  const buckets = new Map<string, Bucket>();
  const issuedTokens: { token: string; installationId: number; expiresAt: Date }[] = [];
  let secondary: { retryAfter: number; count: number; status: 403 | 429 } | undefined;
  let nextId = 1000;

  const emptyStats = (): StandinStats => ({ apiRequests: 0, counted: 0, notModified: 0, rateLimited: 0, assetRequests: 0, assetBytes: 0, assetAuthRefused: 0, assetCut: 0, log: [] });
  let stats = emptyStats();

  let apiUrl = '';
  let assetUrl = '';
  const standin: { signedUrlTtl: number } = { signedUrlTtl: options.signedUrlTtl ?? 300 };

  const bucket = (key: string): Bucket => {
    let b = buckets.get(key);
    if (!b || b.reset <= nowSec()) {
      const limit = key === 'anonymous' ? anonymousLimit : tokenLimit;
      b = { limit, remaining: limit, reset: nowSec() + 3600 };
      buckets.set(key, b);
    }
    return b;
  };

  const findRepo = (owner: string, name: string) => repos.get(`${owner}/${name}`.toLowerCase());
  const reaches = (p: Principal, repo: StoredRepo) => p.repos === '*' || p.repos.has(`${repo.owner}/${repo.name}`.toLowerCase());
  const canSee = (p: Principal, repo: StoredRepo) => !repo.private || reaches(p, repo);
  const seesDrafts = (p: Principal, repo: StoredRepo) => p.push && reaches(p, repo);

  const signPath = (path: string, expires: number) => createHmac('sha256', signingKey).update(`${path}\n${expires}`).digest('hex');
  const signAssetUrl = (assetId: number, ttl = standin.signedUrlTtl) => {
    const entry = assets.get(assetId);
    if (!entry) throw new Error(`no asset ${assetId}`);
    const path = `/github-production-release-asset/${entry.repo.id}/${assetId}/${encodeURIComponent(entry.asset.name)}`;
    const expires = nowSec() + ttl;
    return `${assetUrl}${path}?expires=${expires}&sig=${signPath(path, expires)}`;
  };

  const assetJson = (repo: StoredRepo, release: StoredRelease, a: StoredAsset) => ({
    url: `${apiUrl}/repos/${repo.owner}/${repo.name}/releases/assets/${a.id}`,
    id: a.id,
    node_id: `RA_${a.id}`,
    name: a.name,
    label: a.label,
    uploader: { login: repo.owner },
    content_type: a.contentType,
    state: 'uploaded',
    size: a.bytes.length,
    digest: a.digest,
    download_count: 0,
    created_at: a.createdAt.toISOString(),
    updated_at: a.updatedAt.toISOString(),
    browser_download_url: `${apiUrl}/${repo.owner}/${repo.name}/releases/download/${encodeURIComponent(release.tag)}/${encodeURIComponent(a.name)}`,
  });

  const releaseJson = (repo: StoredRepo, r: StoredRelease) => ({
    url: `${apiUrl}/repos/${repo.owner}/${repo.name}/releases/${r.id}`,
    assets_url: `${apiUrl}/repos/${repo.owner}/${repo.name}/releases/${r.id}/assets`,
    upload_url: `${apiUrl}/repos/${repo.owner}/${repo.name}/releases/${r.id}/assets{?name,label}`,
    html_url: `${apiUrl}/${repo.owner}/${repo.name}/releases/tag/${encodeURIComponent(r.tag)}`,
    id: r.id,
    node_id: `RE_${r.id}`,
    tag_name: r.tag,
    target_commitish: 'main',
    name: r.name,
    draft: r.draft,
    prerelease: r.prerelease,
    created_at: r.createdAt.toISOString(),
    published_at: r.publishedAt ? r.publishedAt.toISOString() : null,
    author: { login: repo.owner },
    assets: r.assets.map((a) => assetJson(repo, r, a)),
    tarball_url: `${apiUrl}/repos/${repo.owner}/${repo.name}/tarball/${encodeURIComponent(r.tag)}`,
    zipball_url: `${apiUrl}/repos/${repo.owner}/${repo.name}/zipball/${encodeURIComponent(r.tag)}`,
    body: r.body,
  });

  const repoJson = (repo: StoredRepo) => ({
    id: repo.id,
    node_id: `R_${repo.id}`,
    name: repo.name,
    full_name: `${repo.owner}/${repo.name}`,
    private: repo.private,
    visibility: repo.private ? 'private' : 'public',
    owner: { login: repo.owner },
    html_url: `${apiUrl}/${repo.owner}/${repo.name}`,
    url: `${apiUrl}/repos/${repo.owner}/${repo.name}`,
    releases_url: `${apiUrl}/repos/${repo.owner}/${repo.name}/releases{/id}`,
  });

  // ---- the API server ----

  const api = createServer((req, res) => {
    handleApi(req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: String(err) }));
    });
  });

  async function handleApi(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.apiRequests++;
    const url = new URL(req.url ?? '/', apiUrl);
    const method = req.method ?? 'GET';
    const entry: RequestLog = {
      host: 'api',
      method,
      url: url.pathname + url.search,
      status: 0,
      authorization: req.headers.authorization,
      ifNoneMatch: req.headers['if-none-match'],
      counted: false,
    };
    stats.log.push(entry);
    const headers: Record<string, string> = {
      'x-github-api-version-selected': '2022-11-28',
      'x-github-media-type': 'github.v3; format=json',
      'access-control-expose-headers': 'ETag, Link, Location, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Used, X-RateLimit-Resource, X-RateLimit-Reset',
    };
    const send = (status: number, body?: unknown, extra: Record<string, string> = {}) => {
      entry.status = status;
      const text = body === undefined ? '' : JSON.stringify(body, null, 2);
      res.writeHead(status, { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }), ...extra });
      res.end(method === 'HEAD' ? undefined : text);
    };
    const fail = (status: number, message: string, extra: Record<string, string> = {}) =>
      send(status, { message, documentation_url: DOCS, status: String(status) }, extra);

    // The App token exchange: authenticated by a JWT, not by a token; no rate-limit bucket here.
    const exchange = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(url.pathname);
    if (exchange) {
      if (method !== 'POST') return fail(404, 'Not Found');
      await readBody(req);
      return appExchange(Number(exchange[1]), req.headers.authorization, send, fail);
    }

    // Who is asking.
    let principal: Principal = { key: 'anonymous', repos: new Set(), push: false };
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const m = /^(?:bearer|token)\s+(\S+)$/i.exec(auth);
      const known = m ? tokens.get(m[1]!) : undefined;
      if (!m || !known || (known.expiresAt !== undefined && known.expiresAt <= now())) return fail(401, 'Bad credentials');
      principal = { key: `token:${m[1]}`, repos: known.repos, push: known.push ?? false };
    }

    // browser_download_url: github.com, not the API; no rate limit, no token (a browser session).
    const download = /^\/([^/]+)\/([^/]+)\/releases\/download\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (download) {
      const repo = findRepo(download[1]!, download[2]!);
      const tag = decodeURIComponent(download[3]!);
      const name = decodeURIComponent(download[4]!);
      const release = repo && !repo.private ? repo.releases.find((r) => r.tag === tag && !r.draft) : undefined;
      const asset = release?.assets.find((a) => a.name === name);
      if (!asset) {
        entry.status = 404;
        res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
        return;
      }
      entry.status = 302;
      res.writeHead(302, { location: signAssetUrl(asset.id) }).end();
      return;
    }

    // Secondary limit (abuse detection): answered before the primary one, whatever the request.
    if (secondary && secondary.count > 0) {
      secondary.count--;
      const { retryAfter, status } = secondary;
      if (secondary.count === 0) secondary = undefined;
      stats.rateLimited++;
      return fail(status, 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.', { 'retry-after': String(retryAfter) });
    }

    const b = bucket(principal.key);
    const rateHeaders = () => ({
      'x-ratelimit-limit': String(b.limit),
      'x-ratelimit-remaining': String(b.remaining),
      'x-ratelimit-used': String(b.limit - b.remaining),
      'x-ratelimit-reset': String(b.reset),
      'x-ratelimit-resource': 'core',
    });
    if (b.remaining <= 0) {
      stats.rateLimited++;
      Object.assign(headers, rateHeaders());
      const who = principal.key === 'anonymous' ? `for ${req.socket.remoteAddress}` : 'for user ID 1';
      return fail(403, `API rate limit exceeded ${who}. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)`);
    }

    // Route; `answer` decides whether a conditional request matched (304, not counted).
    const answer = (body: unknown, extra: Record<string, string> = {}) => {
      const etag = `W/"${sha256Hex(JSON.stringify(body) + (extra.link ?? ''))}"`;
      if (method === 'GET' && etagsOf(req.headers['if-none-match']).includes(etag.slice(2))) {
        stats.notModified++;
        Object.assign(headers, rateHeaders());
        return send(304, undefined, { etag, ...(extra.link ? { link: extra.link } : {}) });
      }
      b.remaining--;
      stats.counted++;
      entry.counted = true;
      Object.assign(headers, rateHeaders());
      return send(200, body, { etag, 'cache-control': principal.key === 'anonymous' ? 'public, max-age=60, s-maxage=60' : 'private, max-age=60, s-maxage=60', vary: 'Accept, Authorization, Cookie, X-GitHub-OTP', ...extra });
    };
    const counted = () => {
      b.remaining--;
      stats.counted++;
      entry.counted = true;
      Object.assign(headers, rateHeaders());
    };

    const m = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(url.pathname);
    const repo = m ? findRepo(m[1]!, m[2]!) : undefined;
    if (!m || !repo || !canSee(principal, repo) || (method !== 'GET' && method !== 'HEAD')) {
      counted();
      return fail(404, 'Not Found');
    }
    const rest = m[3] ?? '';
    if (rest === '') return answer(repoJson(repo));
    if (rest === '/releases') {
      const perPageParam = url.searchParams.get('per_page');
      const perPage = Math.min(100, Math.max(1, perPageParam ? Number(perPageParam) || 30 : 30));
      let offset = 0;
      const cursor = url.searchParams.get('cursor');
      if (cursor !== null) {
        const decoded = /^o(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString());
        if (!decoded) {
          counted();
          return fail(422, 'Invalid cursor');
        }
        offset = Number(decoded[1]);
      }
      const listed = repo.releases.filter((r) => !r.draft || seesDrafts(principal, repo)).reverse();
      const page = listed.slice(offset, offset + perPage);
      const link = (o: number) => {
        const u = new URL(`/repos/${repo.owner}/${repo.name}/releases`, apiUrl);
        u.searchParams.set('per_page', String(perPage));
        u.searchParams.set('cursor', Buffer.from(`o${o}`).toString('base64url'));
        return u.toString();
      };
      const rels: string[] = [];
      const lastOffset = listed.length === 0 ? 0 : Math.floor((listed.length - 1) / perPage) * perPage;
      if (offset > 0) rels.push(`<${link(Math.max(0, offset - perPage))}>; rel="prev"`, `<${link(0)}>; rel="first"`);
      if (offset + perPage < listed.length) rels.push(`<${link(offset + perPage)}>; rel="next"`, `<${link(lastOffset)}>; rel="last"`);
      return answer(page.map((r) => releaseJson(repo, r)), rels.length ? { link: rels.join(', ') } : {});
    }
    if (rest === '/tags') {
      // One page: the tags tests make fit in it (the listing of releases shows the Link pagination).
      const listed = [...repo.tags].reverse();
      return answer(
        listed.map((t) => ({
          name: t.name,
          commit: { sha: t.sha, url: `${apiUrl}/repos/${repo.owner}/${repo.name}/commits/${t.sha}` },
          tarball_url: `${apiUrl}/repos/${repo.owner}/${repo.name}/tarball/refs/tags/${encodeURIComponent(t.name)}`,
          zipball_url: `${apiUrl}/repos/${repo.owner}/${repo.name}/zipball/refs/tags/${encodeURIComponent(t.name)}`,
          node_id: `REF_${t.sha.slice(0, 12)}`,
        })),
      );
    }
    const tarball = /^\/tarball\/(?:refs\/tags\/)?([^/]+)$/.exec(rest);
    if (tarball) {
      const tag = repo.tags.find((t) => t.name === decodeURIComponent(tarball[1]!));
      counted();
      if (!tag) return fail(404, 'Not Found');
      // As codeload: a redirect to a URL that carries its own authorization.
      entry.status = 302;
      res.writeHead(302, { ...headers, location: signAssetUrl(tag.tarball) }).end();
      return;
    }
    const releaseById = /^\/releases\/(\d+)$/.exec(rest);
    if (releaseById) {
      const r = repo.releases.find((x) => x.id === Number(releaseById[1]) && (!x.draft || seesDrafts(principal, repo)));
      if (!r) {
        counted();
        return fail(404, 'Not Found');
      }
      return answer(releaseJson(repo, r));
    }
    const assetById = /^\/releases\/assets\/(\d+)$/.exec(rest);
    if (assetById) {
      const found = assets.get(Number(assetById[1]));
      if (!found || found.repo !== repo || (found.release.draft && !seesDrafts(principal, repo))) {
        counted();
        return fail(404, 'Not Found');
      }
      const accept = req.headers.accept ?? '';
      if (accept.split(',').some((t) => t.trim().toLowerCase().startsWith('application/octet-stream'))) {
        counted();
        entry.status = 302;
        res.writeHead(302, { ...headers, location: signAssetUrl(found.asset.id) }).end();
        return;
      }
      return answer(assetJson(repo, found.release, found.asset));
    }
    counted();
    return fail(404, 'Not Found');
  }

  async function appExchange(
    installationId: number,
    authorization: string | undefined,
    send: (status: number, body?: unknown, extra?: Record<string, string>) => void,
    fail: (status: number, message: string) => void,
  ): Promise<void> {
    const m = authorization ? /^bearer\s+(\S+)$/i.exec(authorization) : null;
    if (!m) return fail(401, 'A JSON web token could not be decoded');
    const jwt = m[1]!;
    let claims;
    try {
      claims = decodeJwt(jwt);
    } catch {
      return fail(401, 'A JSON web token could not be decoded');
    }
    const appId = Number(claims.iss);
    const app = apps.get(appId);
    if (!app) return fail(401, `Integration not found`);
    try {
      // Signature and algorithm here; times below, with GitHub's own rules.
      await jwtVerify(jwt, app.key, { algorithms: ['RS256'], currentDate: new Date(0) });
    } catch {
      return fail(401, 'A JSON web token could not be decoded');
    }
    const t = nowSec();
    if (typeof claims.iat !== 'number' || claims.iat > t + 60) return fail(401, "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued.");
    if (typeof claims.exp !== 'number' || claims.exp <= t || claims.exp > claims.iat + 600)
      return fail(401, "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires.");
    const repoNames = app.app.installations[installationId];
    if (!repoNames) return fail(404, 'Not Found');
    const token = `ghs_${randomBytes(18).toString('base64url')}`;
    const expiresAt = new Date((t + 3600) * 1000);
    tokens.set(token, { repos: new Set(repoNames.map((r) => r.toLowerCase())), expiresAt: expiresAt.getTime() });
    issuedTokens.push({ token, installationId, expiresAt });
    send(201, {
      token,
      expires_at: expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      permissions: { contents: 'read', metadata: 'read' },
      repository_selection: 'selected',
    });
  }

  // ---- the asset host ----

  const assetServer = createServer((req, res) => {
    stats.assetRequests++;
    const url = new URL(req.url ?? '/', assetUrl);
    const method = req.method ?? 'GET';
    const entry: RequestLog = { host: 'assets', method, url: url.pathname + url.search, status: 0, authorization: req.headers.authorization, range: req.headers.range, counted: false };
    stats.log.push(entry);
    const xml = (status: number, code: string, message: string) => {
      entry.status = status;
      res.writeHead(status, { 'content-type': 'application/xml' });
      res.end(method === 'HEAD' ? undefined : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`);
    };
    if (req.headers.authorization !== undefined) {
      stats.assetAuthRefused++;
      return xml(400, 'InvalidArgument', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified');
    }
    if (method !== 'GET' && method !== 'HEAD') return xml(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
    const expires = Number(url.searchParams.get('expires'));
    const sig = url.searchParams.get('sig') ?? '';
    const want = signPath(url.pathname, expires);
    if (!Number.isInteger(expires) || sig.length !== want.length || !timingSafeEqual(Buffer.from(sig), Buffer.from(want)))
      return xml(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
    if (expires <= nowSec()) return xml(403, 'AccessDenied', 'Request has expired');
    const m = /^\/github-production-release-asset\/\d+\/(\d+)\//.exec(url.pathname);
    const found = m ? assets.get(Number(m[1])) : undefined;
    if (!found) return xml(404, 'NoSuchKey', 'The specified key does not exist.');
    const { asset } = found;
    const size = asset.bytes.length;
    const base = {
      'content-type': 'application/octet-stream',
      'content-disposition': `attachment; filename=${asset.name}`,
      'accept-ranges': 'bytes',
      etag: `"0x${sha256Hex(asset.bytes).slice(0, 16).toUpperCase()}"`,
      'last-modified': asset.updatedAt.toUTCString(),
    };
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = req.headers.range;
    if (range !== undefined) {
      const r = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      if (r && (r[1] !== '' || r[2] !== '')) {
        if (r[1] === '') {
          start = Math.max(0, size - Number(r[2]));
        } else {
          start = Number(r[1]);
          end = r[2] === '' ? size - 1 : Math.min(size - 1, Number(r[2]));
        }
        if (start >= size || start > end || (r[1] === '' && Number(r[2]) === 0)) {
          entry.status = 416;
          res.writeHead(416, { 'content-range': `bytes */${size}`, 'content-type': 'application/xml' });
          res.end(method === 'HEAD' ? undefined : '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidRange</Code><Message>The requested range is not satisfiable</Message></Error>');
          return;
        }
        status = 206;
      }
      // A malformed Range is ignored (whole body), as HTTP says.
    }
    entry.status = status;
    const body = asset.bytes.subarray(start, end + 1);
    res.writeHead(status, { ...base, 'content-length': String(body.length), ...(status === 206 ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}) });
    if (method === 'HEAD') return void res.end();
    stats.assetBytes += body.length;
    // Written in pieces as the reader takes them (as a real object store streams), so a reader
    // that goes away leaves pieces unsent, and that is seen.
    let sent = 0;
    const counting = stats;
    res.once('close', () => {
      if (sent < body.length) counting.assetCut++;
    });
    const pump = () => {
      while (sent < body.length) {
        const piece = body.subarray(sent, sent + ASSET_PIECE);
        sent += piece.length;
        if (!res.write(piece)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });

  const apiPort = await listen(api, options.apiPort);
  const assetPort = await listen(assetServer);
  apiUrl = `http://127.0.0.1:${apiPort}`;
  assetUrl = `http://127.0.0.1:${assetPort}`;

  const repoOf = (fullName: string) => {
    const repo = repos.get(fullName.toLowerCase());
    if (!repo) throw new Error(`the stand-in has no repository ${fullName}`);
    return repo;
  };

  return {
    apiUrl,
    assetUrl,
    get stats() {
      return stats;
    },
    resetStats() {
      stats = emptyStats();
    },
    get signedUrlTtl() {
      return standin.signedUrlTtl;
    },
    set signedUrlTtl(v: number) {
      standin.signedUrlTtl = v;
    },
    addRepo(fullName, opts = {}) {
      const [owner, name, extra] = fullName.split('/');
      if (!owner || !name || extra !== undefined) throw new Error(`not owner/name: ${fullName}`);
      const repo: StoredRepo = { id: nextId++, owner, name, private: opts.private ?? false, releases: [], tags: [] };
      repos.set(fullName.toLowerCase(), repo);
      return repo;
    },
    repo: repoOf,
    addRelease(fullName, input) {
      const repo = repoOf(fullName);
      if (repo.releases.some((r) => r.tag === input.tag)) throw new Error(`release ${input.tag} exists`);
      const created = new Date(now());
      const release: StoredRelease = {
        id: nextId++,
        tag: input.tag,
        name: input.name ?? input.tag,
        body: input.body ?? null,
        draft: input.draft ?? false,
        prerelease: input.prerelease ?? false,
        createdAt: created,
        publishedAt: input.draft ? null : (input.publishedAt ?? created),
        assets: [],
      };
      for (const a of input.assets ?? []) {
        const asset: StoredAsset = {
          id: nextId++,
          name: a.name,
          label: a.label ?? null,
          contentType: a.contentType ?? contentTypeOf(a.name),
          bytes: a.bytes,
          digest: a.digest === false ? null : `sha256:${sha256Hex(a.bytes)}`,
          createdAt: created,
          updatedAt: created,
        };
        release.assets.push(asset);
        assets.set(asset.id, { repo, release, asset });
      }
      repo.releases.push(release);
      return release;
    },
    addTag(fullName, input) {
      const repo = repoOf(fullName);
      if (repo.tags.some((t) => t.name === input.name)) throw new Error(`tag ${input.name} exists`);
      const created = new Date(now());
      const asset: StoredAsset = { id: nextId++, name: `${repo.name}-${input.name}.tar.gz`, label: null, contentType: 'application/x-gzip', bytes: input.tarball, digest: null, createdAt: created, updatedAt: created };
      const holder: StoredRelease = { id: 0, tag: input.name, name: null, body: null, draft: false, prerelease: false, createdAt: created, publishedAt: created, assets: [] };
      assets.set(asset.id, { repo, release: holder, asset });
      const tag: StoredTag = { name: input.name, sha: sha256Hex(input.tarball).slice(0, 40), tarball: asset.id };
      repo.tags.push(tag);
      return tag;
    },
    removeTag(fullName, name) {
      const repo = repoOf(fullName);
      const i = repo.tags.findIndex((t) => t.name === name);
      if (i < 0) throw new Error(`no tag ${name}`);
      assets.delete(repo.tags[i]!.tarball);
      repo.tags.splice(i, 1);
    },
    removeRelease(fullName, tag) {
      const repo = repoOf(fullName);
      const i = repo.releases.findIndex((r) => r.tag === tag);
      if (i < 0) throw new Error(`no release ${tag}`);
      for (const a of repo.releases[i]!.assets) assets.delete(a.id);
      repo.releases.splice(i, 1);
    },
    replaceAssetBytes(assetId, bytes, opts = {}) {
      const found = assets.get(assetId);
      if (!found) throw new Error(`no asset ${assetId}`);
      found.asset.bytes = bytes;
      found.asset.updatedAt = new Date(now());
      const mode = opts.digest ?? 'update';
      if (mode === 'update') found.asset.digest = `sha256:${sha256Hex(bytes)}`;
      else if (mode === 'null') found.asset.digest = null;
    },
    addToken(token, reposReached, opts = {}) {
      tokens.set(token, { repos: reposReached === '*' ? '*' : new Set(reposReached.map((r) => r.toLowerCase())), push: opts.push ?? false });
    },
    revokeToken(token) {
      tokens.delete(token);
    },
    async addApp(app) {
      const key = typeof app.publicKey === 'string' ? await importSPKI(app.publicKey, 'RS256') : app.publicKey;
      apps.set(app.id, { app, key });
    },
    get issuedTokens() {
      return issuedTokens;
    },
    setRemaining(credential, remaining) {
      const b = bucket(credential === 'anonymous' ? 'anonymous' : `token:${credential}`);
      b.remaining = remaining;
    },
    secondaryLimit({ retryAfter, count = 1, status = 403 }) {
      secondary = { retryAfter, count, status };
    },
    signAssetUrl,
    close: async () => {
      for (const s of [api, assetServer]) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    },
  };
}
