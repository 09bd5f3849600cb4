import { createRemoteJWKSet, customFetch, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import { PackyardError } from '../util/errors.js';
import { toHex } from '../util/hash.js';
import { parseInput } from '../util/input.js';
import { SCOPES, type Scope } from './tokens.js';
import { own } from '../util/own.js';

/** A repository's trust in the OIDC tokens of one issuer: those whose audience and claims match get `scopes`. */
export interface OidcPolicy {
  id: string;
  /** e.g. https://token.actions.githubusercontent.com */
  issuer: string;
  audience: string;
  /** claim name -> exact value or glob with `*` (matches any run of characters, including '/'); all must match. */
  claims: Record<string, string>;
  scopes: Scope[];
  createdAt: string;
}

/** Asymmetric only: a symmetric algorithm would let anyone holding the (public) JWKS sign tokens. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);
const CLAIM_NAME = /^[a-z_]+$/;
/** Claims the verifier checks itself; a pattern on them would be ignored or meaningless. */
const VERIFIED_CLAIMS = new Set(['iss', 'aud', 'exp', 'nbf', 'iat', 'jti']);
const MAX_CLAIMS = 32;
const DISCOVERY_TTL_MS = 3_600_000;
/** Short, so a passing outage of the issuer heals quickly, yet a burst of requests does not each retry it. */
const DISCOVERY_FAILURE_TTL_MS = 10_000;
const FETCH_TIMEOUT_MS = 5_000;

/** Why `value` may not be an issuer or JWKS address, or undefined when it may. */
function addressProblem(value: string, allowInsecure: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not a URL';
  }
  if (url.username || url.password || url.search || url.hash) return 'must not have credentials, a query or a fragment';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol !== 'http:') return 'must be an https:// URL';
  if (!allowInsecure) return 'must be an https:// URL (plain http:// on a loopback host needs allowInsecure)';
  return LOOPBACK.has(url.hostname) ? undefined : 'must be an https:// URL (plain http:// is allowed only on 127.0.0.1, ::1 or localhost)';
}

/** The API input of a new policy. `allowInsecure` admits http:// issuers on a loopback host (tests, local issuers). */
export function oidcPolicySchema(options: { allowInsecure?: boolean } = {}) {
  const allowInsecure = options.allowInsecure ?? false;
  return z.strictObject({
    issuer: z
      .string()
      .max(512)
      .superRefine((issuer, ctx) => {
        const problem = addressProblem(issuer, allowInsecure);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
    audience: z.string().max(512).regex(/^\S+$/, 'must be non-empty, without spaces'),
    claims: z
      .record(z.string(), z.string().min(1, 'must not be empty (use "*" to require only that the claim exists)').max(1024))
      .superRefine((claims, ctx) => {
        const names = Object.keys(claims);
        if (names.length > MAX_CLAIMS) ctx.addIssue({ code: 'custom', message: `at most ${MAX_CLAIMS} claims` });
        for (const name of names) {
          if (!CLAIM_NAME.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'a claim name is lowercase letters and underscores (e.g. "repository", "job_workflow_ref")' });
          else if (VERIFIED_CLAIMS.has(name)) ctx.addIssue({ code: 'custom', path: [name], message: `"${name}" is checked by the verifier itself; set "issuer" and "audience" instead` });
        }
      })
      .default({}),
    scopes: z.array(z.enum(SCOPES, 'must be "read", "write" or "admin"')).min(1, 'needs at least one of "read", "write", "admin"'),
  });
}

/** A new policy from API input; a 400 names the first problem. */
export function newOidcPolicy(input: unknown, options: { allowInsecure?: boolean } = {}, now = new Date()): OidcPolicy {
  const spec = parseInput(oidcPolicySchema(options), input);
  return { id: toHex(crypto.getRandomValues(new Uint8Array(16))), ...spec, createdAt: now.toISOString() };
}

/** Whether `s` has the shape of a compact JWS: three base64url segments (the last empty for an unsigned token). */
export function looksLikeJwt(s: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(s);
}

/** Whole-string match where `*` stands for any run of characters (including none and '/'). Linear backtracking: no regex, no ReDoS. */
function globMatch(pattern: string, value: string): boolean {
  let p = 0;
  let v = 0;
  let star = -1;
  let resume = 0;
  while (v < value.length) {
    if (pattern[p] === '*') {
      star = p++;
      resume = v;
    } else if (p < pattern.length && pattern[p] === value[v]) {
      p++;
      v++;
    } else if (star >= 0) {
      p = star + 1;
      v = ++resume;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/** The first claim of `policy` the token does not satisfy, or undefined when all match. */
function mismatchedClaim(policy: OidcPolicy, claims: JWTPayload): string | undefined {
  for (const [name, pattern] of Object.entries(policy.claims)) {
    const value = own(claims, name);
    if (value === undefined || value === null || !globMatch(pattern, String(value))) return name;
  }
  return undefined;
}

const invalid = (message: string) => new PackyardError(401, 'invalid-oidc-token', message);
const unavailable = (message: string) => new PackyardError(503, 'oidc-issuer-unavailable', message);
const reasonOf = (err: unknown) => (err instanceof Error ? err.message : String(err));
const isoOf = (seconds: unknown) => (typeof seconds === 'number' ? new Date(seconds * 1000).toISOString() : String(seconds));

type Fetch = (input: string, init: RequestInit) => Promise<Response>;
type Discovery = { jwksUri: URL; until: number } | { error: PackyardError; until: number };

/** Verifies OIDC tokens (e.g. GitHub Actions') against a repository's trust policies, with the issuers' published keys. */
export class OidcVerifier {
  private readonly allowInsecure: boolean;
  private readonly fetch: Fetch;
  private readonly now: () => number;
  private readonly clockTolerance: number;
  private readonly discovery = new Map<string, Discovery>();
  /** One per jwks_uri: it keeps the keys, refetching when stale or when a token names an unknown kid (after jose's cooldown). */
  private readonly keySets = new Map<string, JWTVerifyGetKey>();

  constructor(options: { allowInsecure?: boolean; fetch?: typeof fetch; now?: () => number; clockToleranceSec?: number } = {}) {
    this.allowInsecure = options.allowInsecure ?? false;
    // A call through a wrapper: Workers throw "Illegal invocation" on a fetch detached from globalThis.
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.now = options.now ?? Date.now;
    this.clockTolerance = options.clockToleranceSec ?? 60;
  }

  /**
   * The first policy the token satisfies, and its verified claims. Throws 401 invalid-oidc-token
   * when the token is not valid, 403 oidc-policy-mismatch when it is valid but no policy's claims
   * match, 503 oidc-issuer-unavailable when the issuer's configuration or keys cannot be had.
   */
  async verify(jwt: string, policies: OidcPolicy[]): Promise<{ policy: OidcPolicy; claims: JWTPayload }> {
    let alg: unknown;
    let kid: unknown;
    let issuer: unknown;
    try {
      ({ alg, kid } = decodeProtectedHeader(jwt));
      issuer = decodeJwt(jwt).iss;
    } catch (err) {
      throw invalid(`the token is malformed: ${reasonOf(err)}`);
    }
    // Checked before any fetch, and named plainly: "none" and HS* are the classic forgeries.
    if (typeof alg !== 'string' || !ALGORITHMS.includes(alg)) throw invalid(`the token's algorithm ${JSON.stringify(alg)} is refused: it must be one of ${ALGORITHMS.join(', ')}`);
    if (typeof issuer !== 'string') throw invalid('the token has no "iss" (issuer) claim');
    const candidates = policies.filter((p) => p.issuer === issuer);
    if (candidates.length === 0) throw invalid(`no trust policy for issuer ${issuer}`);
    const problem = addressProblem(issuer, this.allowInsecure);
    if (problem) throw invalid(`the issuer ${issuer} of the token's trust policies ${problem}`);

    const jwksUri = await this.jwksUri(issuer);
    const keys = this.keySet(jwksUri);
    const resolver: JWTVerifyGetKey = async (header, token) => {
      try {
        return await keys(header, token);
      } catch (err) {
        if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err;
        throw unavailable(`could not get the keys of issuer ${issuer} from ${jwksUri.href}: ${reasonOf(err)}`);
      }
    };

    let claims: JWTPayload;
    try {
      // One signature check for all the issuer's policies: any of their audiences will do, the policy loop below picks.
      ({ payload: claims } = await jwtVerify(jwt, resolver, {
        issuer,
        audience: [...new Set(candidates.map((p) => p.audience))],
        algorithms: ALGORITHMS,
        clockTolerance: this.clockTolerance,
        currentDate: new Date(this.now()),
        // A token without an expiry would stay good forever once leaked.
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      throw this.explain(err, issuer, jwksUri, kid);
    }

    const audiences = typeof claims.aud === 'string' ? [claims.aud] : (claims.aud ?? []);
    let mismatch: string | undefined;
    for (const policy of candidates) {
      if (!audiences.includes(policy.audience)) continue;
      const name = mismatchedClaim(policy, claims);
      if (name === undefined) return { policy, claims };
      mismatch ??= name;
    }
    // jwtVerify accepted the audience, so some policy was compared and `mismatch` is set.
    const value = own(claims, mismatch!);
    throw new PackyardError(
      403,
      'oidc-policy-mismatch',
      `the token is valid but matches no trust policy of issuer ${issuer} (claim "${mismatch}" is ${value === undefined ? 'missing' : JSON.stringify(value)})`,
    );
  }

  /** The jwks_uri the issuer's OpenID configuration names; kept an hour, a failure a few seconds. */
  private async jwksUri(issuer: string): Promise<URL> {
    const now = this.now();
    const cached = this.discovery.get(issuer);
    if (cached && cached.until > now) {
      if ('error' in cached) throw cached.error;
      return cached.jwksUri;
    }
    // The result is cached, not the pending promise: Workers forbid awaiting another request's I/O.
    try {
      const jwksUri = await this.discover(issuer);
      this.discovery.set(issuer, { jwksUri, until: now + DISCOVERY_TTL_MS });
      return jwksUri;
    } catch (err) {
      if (err instanceof PackyardError) this.discovery.set(issuer, { error: err, until: now + DISCOVERY_FAILURE_TTL_MS });
      throw err;
    }
  }

  private async discover(issuer: string): Promise<URL> {
    const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    let config: unknown;
    try {
      // No redirects: a redirect could lead the fetch off the issuer's host, or to plain http.
      const res = await this.fetch(url, { headers: { accept: 'application/json' }, redirect: 'manual', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
      if (res.status !== 200) {
        await res.body?.cancel();
        throw new Error(`HTTP ${res.status}`);
      }
      config = await res.json();
    } catch (err) {
      throw unavailable(`could not read the OpenID configuration of issuer ${issuer} at ${url}: ${reasonOf(err)}`);
    }
    const { issuer: named, jwks_uri: jwksUri } = (typeof config === 'object' && config !== null ? config : {}) as { issuer?: unknown; jwks_uri?: unknown };
    // OpenID Connect Discovery §4.3: the document must name the issuer it was fetched for.
    if (named !== issuer) throw unavailable(`the OpenID configuration at ${url} names issuer ${JSON.stringify(named)}, not ${issuer}`);
    if (typeof jwksUri !== 'string') throw unavailable(`the OpenID configuration at ${url} has no jwks_uri`);
    const problem = addressProblem(jwksUri, this.allowInsecure);
    if (problem) throw unavailable(`the jwks_uri ${jwksUri} of issuer ${issuer} ${problem}`);
    return new URL(jwksUri);
  }

  private keySet(jwksUri: URL): JWTVerifyGetKey {
    let keys = this.keySets.get(jwksUri.href);
    if (!keys) {
      keys = createRemoteJWKSet(jwksUri, { timeoutDuration: FETCH_TIMEOUT_MS, [customFetch]: this.fetch });
      this.keySets.set(jwksUri.href, keys);
    }
    return keys;
  }

  /** A clear refusal for an error of jwtVerify. */
  private explain(err: unknown, issuer: string, jwksUri: URL, kid: unknown): PackyardError {
    if (err instanceof PackyardError) return err;
    if (err instanceof errors.JWTExpired) return invalid(`the token expired at ${isoOf(err.payload.exp)}`);
    if (err instanceof errors.JWTClaimValidationFailed) {
      if (err.reason === 'missing') return invalid(`the token has no "${err.claim}" claim`);
      if (err.claim === 'nbf') return invalid(`the token is not valid before ${isoOf(err.payload.nbf)}`);
      if (err.claim === 'aud') return invalid(`the token's audience ${JSON.stringify(err.payload.aud)} is not that of any trust policy for issuer ${issuer}`);
      return invalid(`the token's "${err.claim}" claim is not valid: ${err.message}`);
    }
    if (err instanceof errors.JWKSNoMatchingKey) return invalid(`no key of issuer ${issuer} (${jwksUri.href}) matches the token's key id ${JSON.stringify(kid)} and algorithm`);
    if (err instanceof errors.JWKSMultipleMatchingKeys) return invalid(`the token names no key id (kid) and several keys of issuer ${issuer} fit`);
    if (err instanceof errors.JWSSignatureVerificationFailed) return invalid(`the token's signature does not verify with the keys of issuer ${issuer}`);
    if (err instanceof errors.JOSEError) return invalid(`the token is not valid: ${err.message}`);
    throw err;
  }
}
