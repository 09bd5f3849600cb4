// A local OIDC issuer for tests, like GitHub Actions' (https://token.actions.githubusercontent.com):
// `/.well-known/openid-configuration` names it and its `/jwks`, which publishes real public keys;
// `sign()` makes real tokens with GitHub-like claims. Also forgeries, for the refusals.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export type TestAlg = 'RS256' | 'ES256';

interface Key {
  kid: string;
  alg: TestAlg;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

export interface SignOptions {
  /** Default RS256. */
  alg?: TestAlg;
  /** The key to sign with (its kid goes in the header). Default: the first key of `alg`. */
  kid?: string;
  /** jose's forms: seconds since the epoch, a Date, or a span from now such as '5m' or '-2m'. Default '5m'; null: no `exp`. */
  expiresIn?: number | string | Date | null;
  notBefore?: number | string | Date;
  /** Default: the issuer's URL. */
  issuer?: string;
  /** Default: the `audience` the issuer was started with. */
  audience?: string | string[];
  /** Protected header fields, set over the defaults (e.g. a `kid` no published key has). */
  header?: Record<string, unknown>;
}

/** Claims to set; `undefined` removes a default claim. */
export type Claims = Record<string, unknown>;

export interface TestIssuer {
  /** http://127.0.0.1:PORT, also the `iss` of its tokens. */
  url: string;
  /** The default `aud`. */
  audience: string;
  /** The published keys, in order: an RS256 and an ES256 key at start, then those added. */
  readonly kids: string[];
  /** How many times `/jwks` and the OpenID configuration were fetched. */
  readonly jwksFetches: number;
  readonly discoveryFetches: number;
  sign(claims?: Claims, opts?: SignOptions): Promise<string>;
  /** Makes and publishes a new key (as an issuer rotating keys does); returns its kid. */
  addKey(alg?: TestAlg): Promise<string>;
  /** An unsigned token: header `alg: none`, empty signature. */
  unsigned(claims?: Claims, opts?: SignOptions): string;
  /** HS256 with a published RSA public key as the HMAC secret (the algorithm-confusion attack). */
  hs256WithPublicKey(as: 'pem' | 'jwk', claims?: Claims, opts?: SignOptions): Promise<string>;
  /** A token whose payload carries `claims` under the header and signature of a genuine token with the defaults. */
  tampered(claims: Claims, opts?: SignOptions): Promise<string>;
  close(): Promise<void>;
}

export interface IssuerOptions {
  /** Default 'packyard'. */
  audience?: string;
  /** Fields written over the OpenID configuration (e.g. another `issuer` or `jwks_uri`). */
  discovery?: Record<string, unknown>;
}

/** GitHub Actions' claims for a push to main of acme/app. */
export function githubClaims(): Claims {
  return {
    sub: 'repo:acme/app:ref:refs/heads/main',
    repository: 'acme/app',
    repository_owner: 'acme',
    repository_id: '123456',
    repository_owner_id: '7890',
    repository_visibility: 'private',
    ref: 'refs/heads/main',
    ref_type: 'branch',
    sha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
    workflow: 'release',
    workflow_ref: 'acme/app/.github/workflows/release.yml@refs/heads/main',
    job_workflow_ref: 'acme/app/.github/workflows/release.yml@refs/heads/main',
    event_name: 'push',
    environment: 'production',
    actor: 'octocat',
    run_id: '9876543210',
    run_number: '42',
    run_attempt: '1',
    runner_environment: 'github-hosted',
  };
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export async function startOidcIssuer(options: IssuerOptions = {}): Promise<TestIssuer> {
  const keys: Key[] = [];
  const addKey = async (alg: TestAlg = 'RS256') => {
    const { privateKey, publicKey } = await generateKeyPair(alg);
    const kid = `${alg.toLowerCase()}-${randomBytes(6).toString('hex')}`;
    keys.push({ kid, alg, privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } });
    return kid;
  };
  await addKey('RS256');
  await addKey('ES256');

  let jwksFetches = 0;
  let discoveryFetches = 0;
  // Set once listening; the handlers run only after.
  let url = '';
  const audience = options.audience ?? 'packyard';
  const server: Server = createServer((req, res) => {
    const send = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/.well-known/openid-configuration') {
      discoveryFetches++;
      send({
        issuer: url,
        jwks_uri: `${url}/jwks`,
        subject_types_supported: ['public', 'pairwise'],
        response_types_supported: ['id_token'],
        id_token_signing_alg_values_supported: ['RS256', 'ES256'],
        claims_supported: Object.keys(githubClaims()),
        ...options.discovery,
      });
    } else if (req.url === '/jwks') {
      jwksFetches++;
      send({ keys: keys.map((k) => k.jwk) });
    } else {
      res.writeHead(404).end();
    }
  });
  // Port 0: the kernel picks a free one, with no window for another process to take it.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const payload = (claims: Claims): JWTPayload => {
    const merged: Claims = { ...githubClaims(), ...claims };
    for (const [name, value] of Object.entries(merged)) if (value === undefined) delete merged[name];
    return merged as JWTPayload;
  };
  // What `build` would sign, for the forgeries that skip jose (its timing options ignored: valid for 5 minutes).
  const unsignedPayload = (claims: Claims, opts: SignOptions): JWTPayload => {
    const now = Math.floor(Date.now() / 1000);
    return { ...payload(claims), iss: opts.issuer ?? url, aud: opts.audience ?? audience, iat: now, nbf: now, exp: now + 300 };
  };
  const keyFor = (opts: SignOptions): Key => {
    const key = opts.kid ? keys.find((k) => k.kid === opts.kid) : keys.find((k) => k.alg === (opts.alg ?? 'RS256'));
    if (!key) throw new Error(`the test issuer has no key ${opts.kid ?? opts.alg}`);
    return key;
  };
  const build = (claims: Claims, opts: SignOptions, alg: string, kid: string) => {
    const jwt = new SignJWT(payload(claims))
      .setProtectedHeader({ alg, typ: 'JWT', kid, ...opts.header })
      .setIssuer(opts.issuer ?? url)
      .setAudience(opts.audience ?? audience)
      .setIssuedAt()
      .setNotBefore(opts.notBefore ?? '0s');
    return opts.expiresIn === null ? jwt : jwt.setExpirationTime(opts.expiresIn ?? '5m');
  };
  const sign = async (claims: Claims = {}, opts: SignOptions = {}) => {
    const key = keyFor(opts);
    return build(claims, opts, key.alg, key.kid).sign(key.privateKey);
  };

  return {
    url,
    audience,
    get kids() {
      return keys.map((k) => k.kid);
    },
    get jwksFetches() {
      return jwksFetches;
    },
    get discoveryFetches() {
      return discoveryFetches;
    },
    sign,
    addKey,
    unsigned: (claims = {}, opts = {}) => `${b64url({ alg: 'none', typ: 'JWT', ...opts.header })}.${b64url(unsignedPayload(claims, opts))}.`,
    hs256WithPublicKey: async (as, claims = {}, opts = {}) => {
      const key = keys.find((k) => k.alg === 'RS256')!;
      const secret = as === 'pem' ? await exportSPKI(key.publicKey) : JSON.stringify(key.jwk);
      return build(claims, opts, 'HS256', key.kid).sign(new TextEncoder().encode(secret));
    },
    tampered: async (claims, opts = {}) => {
      const [header, , signature] = (await sign({}, opts)).split('.');
      return `${header}.${b64url(unsignedPayload(claims, opts))}.${signature}`;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
