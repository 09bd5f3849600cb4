import { PackyardError } from '../util/errors.js';
import { Lru } from '../util/lru.js';
import type { AdminToken } from './admin-token.js';
import { isApiToken, type ApiTokens, type Grants, type Scope } from './tokens.js';
import { looksLikeJwt, type OidcVerifier } from './oidc.js';
import type { OidcPolicies } from './oidc-policies.js';
import type { Throttle } from './throttle.js';
import { own } from '../util/own.js';

/** Who is asking, for authorization and for the audit trail (each snapshot's actor). */
export interface Identity extends Grants {
  actor: string;
}

/** Whether `identity` may do `need` in `repo`: admin implies write, write implies read. */
export function allows(identity: Identity, repo: string, need: Scope): boolean {
  if (identity.admin) return true;
  const scopes = own(identity.repos, repo) ?? [];
  return scopes.includes(need) || scopes.includes('admin') || (need === 'read' && scopes.includes('write'));
}

/** The secret a request presents: `Authorization: Bearer <token>`, or Basic with the token as password (apt's auth.conf). */
export function credentialOf(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (bearer) return bearer[1];
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
  if (!basic) return undefined;
  let decoded: string;
  try {
    decoded = atob(basic[1]!);
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(':');
  // Any login: apt needs one, the password is what counts (`oidc` or `github-action` for OIDC tokens).
  return colon < 0 ? undefined : decoded.slice(colon + 1) || undefined;
}

export interface AuthenticatorDeps {
  admin: AdminToken;
  tokens: ApiTokens;
  oidc: OidcVerifier;
  policies: OidcPolicies;
  throttle: Throttle;
  now?: () => number;
}

/**
 * Whether guessing could find `credential`: the admin token may be one an operator chose. API
 * tokens (224 random bits) and signed OIDC tokens cannot be guessed, so the global failure
 * budget never slows or refuses them; the per-address block still does.
 */
function guessable(credential: string): boolean {
  return !isApiToken(credential) && !looksLikeJwt(credential);
}

/** How long a verified credential is trusted without checking again (bounds how late a revocation bites). */
const REMEMBER_MS = 10_000;

/** Turns a request's credential into an identity: the admin token, an API token, or an OIDC token a repository trusts. */
export class Authenticator {
  private readonly remembered = new Lru<string, { identity: Identity; until: number }>(4096);
  private readonly now: () => number;

  constructor(private readonly deps: AuthenticatorDeps) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * The identity behind `authorization`, or null when the request carries no credential. `repo`
   * is the repository the request is about: OIDC tokens are trusted per repository. Throws 401
   * for a credential that is not valid, 429 for a client that failed too often.
   */
  async identify(authorization: string | undefined, repo: string | undefined, client: string): Promise<Identity | null> {
    const credential = credentialOf(authorization);
    if (credential === undefined) {
      if (authorization) throw new PackyardError(401, 'invalid-credentials', 'the Authorization header must be "Bearer <token>" or Basic with the token as password');
      return null;
    }
    const cacheKey = `${repo ?? ''}\n${credential}`;
    const cached = this.remembered.get(cacheKey);
    if (cached && cached.until > this.now()) return cached.identity;

    const { throttle } = this.deps;
    const wait = throttle.retryAfter(client, credential);
    if (wait > 0) throw new PackyardError(429, 'too-many-failures', `too many failed authentications from this address: try again in ${wait} s`, { 'retry-after': String(wait) });
    const weak = guessable(credential);
    if (weak) {
      const { delayMs, retryAfter } = throttle.budget(credential);
      if (retryAfter > 0) throw new PackyardError(429, 'too-many-failures', `too many failed authentications on this server: try again in ${retryAfter} s`, { 'retry-after': String(retryAfter) });
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
    let identity: Identity | null;
    try {
      identity = await this.verify(credential, repo);
    } catch (err) {
      if (err instanceof PackyardError && err.status === 401) throttle.failed(client, weak);
      throw err;
    }
    if (!identity) {
      throttle.failed(client, weak);
      throw new PackyardError(401, 'invalid-credentials', 'the token is not valid (unknown, revoked or expired)');
    }
    throttle.succeeded(credential);
    this.remembered.set(cacheKey, { identity, until: this.now() + REMEMBER_MS });
    return identity;
  }

  private async verify(credential: string, repo: string | undefined): Promise<Identity | null> {
    if (await this.deps.admin.verify(credential)) return { actor: 'admin', admin: true, repos: {} };
    if (isApiToken(credential)) {
      const token = await this.deps.tokens.verify(credential, this.now());
      return token && { actor: `token:${token.name}`, admin: token.admin, repos: token.repos };
    }
    if (looksLikeJwt(credential)) {
      if (!repo) throw new PackyardError(401, 'invalid-credentials', 'an OIDC token is trusted per repository: use it on a repository’s URLs');
      const { policy, claims } = await this.deps.oidc.verify(credential, await this.deps.policies.list(repo));
      const subject = typeof claims.sub === 'string' ? claims.sub : 'unknown';
      const from = typeof claims.repository === 'string' ? ` (${claims.repository})` : '';
      return { actor: `oidc:${subject}${from}`, admin: false, repos: { [repo]: policy.scopes } };
    }
    return null;
  }
}
