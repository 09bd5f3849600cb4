// Credentials for GitHub's API: a token, or a GitHub App whose RS256 JWT (iat 60 s in the past
// for clock drift, exp 9 minutes from now: GitHub allows at most 10 after iat) is exchanged at
// `POST /app/installations/{id}/access_tokens` for a one-hour installation token, kept until 5
// minutes before it expires. Web-standard: Web Crypto and jose.
import { concatBytes } from '../../util/bytes.js';
import { SignJWT } from 'jose';
import { GitHubError, GitHubRateLimitError, githubMessage } from './errors.js';
import { rateLimitRefusal } from './rate-limit.js';

export interface GitHubAppCredentials {
  id: number | string;
  installationId: number | string;
  /** The App's private key, PEM: PKCS#1 (`BEGIN RSA PRIVATE KEY`, as GitHub hands it out) or PKCS#8. */
  privateKey: string;
}

export type GitHubCredentials = { token: string } | { app: GitHubAppCredentials };

export interface InstallationToken {
  token: string;
  /** ms since the epoch. */
  expiresAt: number;
}

/** Where installation tokens are kept (on the Worker: storage shared across isolates). */
export interface TokenCache {
  get(key: string): Promise<InstallationToken | undefined> | InstallationToken | undefined;
  set(key: string, value: InstallationToken): Promise<void> | void;
  delete(key: string): Promise<void> | void;
}

/** How long before its expiry an installation token is replaced. */
const TOKEN_REFRESH_MARGIN_MS = 5 * 60_000;

function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

function der(tag: number, content: Uint8Array): Uint8Array {
  const len = derLength(content.length);
  const out = new Uint8Array(1 + len.length + content.length);
  out[0] = tag;
  out.set(len, 1);
  out.set(content, 1 + len.length);
  return out;
}

/** A PKCS#1 RSAPrivateKey wrapped as PKCS#8 PrivateKeyInfo (what Web Crypto imports). */
function pkcs1ToPkcs8(pkcs1: Uint8Array): Uint8Array {
  const version = Uint8Array.of(0x02, 0x01, 0x00);
  // SEQUENCE { OID 1.2.840.113549.1.1.1 (rsaEncryption), NULL }
  const algorithm = Uint8Array.of(0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00);
  return der(0x30, concatBytes([version, algorithm, der(0x04, pkcs1)]));
}

/** Imports an App's PEM private key (PKCS#1 or PKCS#8) for RS256. */
export async function importAppKey(pem: string): Promise<CryptoKey> {
  const m = /-----BEGIN (RSA )?PRIVATE KEY-----([\s\S]*?)-----END (RSA )?PRIVATE KEY-----/.exec(pem);
  if (!m || Boolean(m[1]) !== Boolean(m[3])) throw new TypeError('the GitHub App private key is not a PEM RSA private key (BEGIN RSA PRIVATE KEY or BEGIN PRIVATE KEY)');
  let raw: Uint8Array;
  try {
    raw = Uint8Array.from(atob(m[2]!.replace(/\s+/g, '')), (c) => c.charCodeAt(0));
  } catch {
    throw new TypeError('the GitHub App private key is not valid base64');
  }
  const pkcs8 = m[1] ? pkcs1ToPkcs8(raw) : raw;
  try {
    return await crypto.subtle.importKey('pkcs8', pkcs8 as Uint8Array<ArrayBuffer>, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
  } catch (err) {
    throw new TypeError(`the GitHub App private key cannot be imported: ${(err as Error).message}`);
  }
}

/** The App's JWT for `now` (ms): iat 60 s back, exp 9 minutes ahead (10 after iat), iss the App id. */
async function appJwt(app: Pick<GitHubAppCredentials, 'id'>, key: CryptoKey, now: number): Promise<string> {
  const t = Math.floor(now / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
    .setIssuer(String(app.id))
    .setIssuedAt(t - 60)
    .setExpirationTime(t + 540)
    .sign(key);
}

function memoryTokenCache(): TokenCache {
  const map = new Map<string, InstallationToken>();
  return { get: (k) => map.get(k), set: (k, v) => void map.set(k, v), delete: (k) => void map.delete(k) };
}

export interface GitHubAuthOptions {
  apiUrl: string;
  credentials?: GitHubCredentials;
  fetch: typeof fetch;
  now: () => number;
  tokenCache?: TokenCache;
  headers: Record<string, string>;
}

/** Turns credentials into an `Authorization` value, exchanging and caching App tokens. */
export class GitHubAuth {
  private key?: Promise<CryptoKey>;
  private pending?: Promise<InstallationToken>;
  private readonly cache: TokenCache;
  /** Installation tokens fetched (for tests and reports). */
  exchanges = 0;

  constructor(private readonly opts: GitHubAuthOptions) {
    this.cache = opts.tokenCache ?? memoryTokenCache();
  }

  get hasCredentials(): boolean {
    return this.opts.credentials !== undefined;
  }

  get isApp(): boolean {
    return this.opts.credentials !== undefined && 'app' in this.opts.credentials;
  }

  private get cacheKey(): string {
    const c = this.opts.credentials;
    return c && 'app' in c ? `${this.opts.apiUrl}|app:${c.app.id}|installation:${c.app.installationId}` : '';
  }

  /** `Bearer …` for the current credentials, or undefined without any. */
  async authorization(): Promise<string | undefined> {
    const c = this.opts.credentials;
    if (!c) return undefined;
    if ('token' in c) return `Bearer ${c.token}`;
    const cached = await this.cache.get(this.cacheKey);
    if (cached && cached.expiresAt - TOKEN_REFRESH_MARGIN_MS > this.opts.now()) return `Bearer ${cached.token}`;
    this.pending ??= this.exchange(c.app).finally(() => (this.pending = undefined));
    return `Bearer ${(await this.pending).token}`;
  }

  /** Forgets a cached installation token that GitHub refused. */
  async invalidate(): Promise<void> {
    if (this.isApp) await this.cache.delete(this.cacheKey);
  }

  private async exchange(app: GitHubAppCredentials): Promise<InstallationToken> {
    this.key ??= importAppKey(app.privateKey);
    this.key.catch(() => (this.key = undefined));
    const jwt = await appJwt(app, await this.key, this.opts.now());
    const url = `${this.opts.apiUrl}/app/installations/${encodeURIComponent(String(app.installationId))}/access_tokens`;
    const res = await this.opts.fetch(url, {
      method: 'POST',
      headers: { ...this.opts.headers, Authorization: `Bearer ${jwt}` },
      redirect: 'manual',
    });
    this.exchanges++;
    const refusal = rateLimitRefusal(res, this.opts.now());
    if (refusal) {
      await res.body?.cancel();
      throw new GitHubRateLimitError(refusal.kind, refusal.retryAt, refusal.rateLimit, url, '', this.opts.now());
    }
    const text = await res.text();
    if (res.status !== 201 && res.status !== 200) {
      throw new GitHubError(res.status, `GitHub refused the App's token exchange for installation ${app.installationId} (${res.status}): ${githubMessage(text, '')}`, url);
    }
    let body: { token?: unknown; expires_at?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new GitHubError(res.status, 'GitHub answered the token exchange with something that is not JSON', url);
    }
    const expiresAt = typeof body.expires_at === 'string' ? Date.parse(body.expires_at) : NaN;
    if (typeof body.token !== 'string' || !body.token || Number.isNaN(expiresAt))
      throw new GitHubError(res.status, 'GitHub answered the token exchange without a token and its expiry', url);
    const token = { token: body.token, expiresAt };
    await this.cache.set(this.cacheKey, token);
    return token;
  }
}
