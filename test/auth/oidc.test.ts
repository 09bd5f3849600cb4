import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { looksLikeJwt, newOidcPolicy, oidcPolicySchema, OidcVerifier, type OidcPolicy } from '../../src/auth/oidc.js';
import { PackyardError } from '../../src/util/errors.js';
import { packyardError } from '../helpers/errors.js';
import { startOidcIssuer, type TestIssuer } from '../helpers/oidc-issuer.js';

let issuer: TestIssuer;
let other: TestIssuer;

beforeAll(async () => {
  [issuer, other] = await Promise.all([startOidcIssuer(), startOidcIssuer()]);
});
afterAll(async () => {
  await Promise.all([issuer?.close(), other?.close()]);
});
afterEach(() => {
  vi.useRealTimers();
});

function policy(over: Partial<OidcPolicy> = {}): OidcPolicy {
  return {
    id: 'a'.repeat(32),
    issuer: issuer.url,
    audience: 'packyard',
    claims: { repository: 'acme/app' },
    scopes: ['write'],
    createdAt: '2026-01-01T00:00:00.000Z',
    ...over,
  };
}

const verifier = (options: ConstructorParameters<typeof OidcVerifier>[0] = {}) => new OidcVerifier({ allowInsecure: true, ...options });

/** The PackyardError `promise` rejects with, checked for status and code. */
async function refusal(promise: Promise<unknown>, status: number, code: string): Promise<PackyardError> {
  const err = await packyardError(() => promise);
  expect(err).toMatchObject({ status, code });
  return err;
}
const invalid = (promise: Promise<unknown>) => refusal(promise, 401, 'invalid-oidc-token');
const mismatch = (promise: Promise<unknown>) => refusal(promise, 403, 'oidc-policy-mismatch');

describe('OidcVerifier accepts', () => {
  it('an RS256 token of a trusted issuer, returning the policy and the verified claims', async () => {
    const p = policy();
    const { policy: matched, claims } = await verifier().verify(await issuer.sign(), [p]);
    expect(matched).toBe(p);
    expect(claims).toMatchObject({ iss: issuer.url, aud: 'packyard', repository: 'acme/app', sub: 'repo:acme/app:ref:refs/heads/main' });
  });

  it('an ES256 token', async () => {
    const { claims } = await verifier().verify(await issuer.sign({}, { alg: 'ES256' }), [policy()]);
    expect(claims.repository).toBe('acme/app');
  });

  it('with the first policy, in order, whose audience and claims match', async () => {
    const policies = [
      policy({ id: 'other-repo', claims: { repository: 'acme/other' } }),
      policy({ id: 'other-audience', audience: 'elsewhere', claims: {} }),
      policy({ id: 'owner', claims: { repository: 'acme/*' } }),
      policy({ id: 'exact' }),
    ];
    expect((await verifier().verify(await issuer.sign(), policies)).policy.id).toBe('owner');
    expect((await verifier().verify(await issuer.sign({}, { audience: 'elsewhere' }), policies)).policy.id).toBe('other-audience');
  });

  it('a token expired or not yet valid by less than the clock tolerance (60 s by default)', async () => {
    await verifier().verify(await issuer.sign({}, { expiresIn: '-30s' }), [policy()]);
    await verifier().verify(await issuer.sign({}, { notBefore: '30s' }), [policy()]);
    const strict = verifier({ clockToleranceSec: 0 });
    expect((await invalid(strict.verify(await issuer.sign({}, { expiresIn: '-30s' }), [policy()]))).message).toMatch(/expired at/);
  });

  it('a token only while it is valid by the injected clock', async () => {
    const later = verifier({ now: () => Date.now() + 10 * 60_000 });
    expect((await invalid(later.verify(await issuer.sign(), [policy()]))).message).toMatch(/^the token expired at \d{4}-/);
  });

  it('fetching the configuration and the keys once for many tokens', async () => {
    const v = verifier();
    const [discovery, jwks] = [issuer.discoveryFetches, issuer.jwksFetches];
    for (let i = 0; i < 3; i++) await v.verify(await issuer.sign({}, { alg: i % 2 ? 'ES256' : 'RS256' }), [policy()]);
    expect([issuer.discoveryFetches - discovery, issuer.jwksFetches - jwks]).toEqual([1, 1]);
  });
});

describe('OidcVerifier refuses', () => {
  it('a token for another audience', async () => {
    const err = await invalid(verifier().verify(await issuer.sign({}, { audience: 'someone-else' }), [policy()]));
    expect(err.message).toMatch(/audience "someone-else" is not that of any trust policy/);
  });

  it('a token of an issuer no policy trusts, without fetching anything from it', async () => {
    const fetched = other.discoveryFetches + other.jwksFetches;
    const err = await invalid(verifier().verify(await other.sign(), [policy()]));
    expect(err.message).toBe(`no trust policy for issuer ${other.url}`);
    expect(other.discoveryFetches + other.jwksFetches).toBe(fetched);
    await invalid(verifier().verify(await issuer.sign(), []));
  });

  it("a token naming a trusted issuer and its key id, signed with another issuer's key", async () => {
    const forged = await other.sign({}, { issuer: issuer.url, header: { kid: issuer.kids[0] } });
    expect((await invalid(verifier().verify(forged, [policy()]))).message).toMatch(/signature does not verify/);
  });

  it('an expired token', async () => {
    expect((await invalid(verifier().verify(await issuer.sign({}, { expiresIn: '-2m' }), [policy()]))).message).toMatch(/^the token expired at /);
  });

  it('a token not yet valid', async () => {
    expect((await invalid(verifier().verify(await issuer.sign({}, { notBefore: '2m' }), [policy()]))).message).toMatch(/^the token is not valid before /);
  });

  it('a token without an expiry', async () => {
    expect((await invalid(verifier().verify(await issuer.sign({}, { expiresIn: null }), [policy()]))).message).toBe('the token has no "exp" claim');
  });

  it('an unsigned token (alg none), before fetching anything', async () => {
    const fetched = issuer.discoveryFetches;
    const err = await invalid(verifier().verify(issuer.unsigned(), [policy()]));
    expect(err.message).toMatch(/algorithm "none" is refused/);
    expect(issuer.discoveryFetches).toBe(fetched);
  });

  it('HS256 with the public key as the HMAC secret (PEM or JWK)', async () => {
    for (const as of ['pem', 'jwk'] as const) {
      const err = await invalid(verifier().verify(await issuer.hs256WithPublicKey(as), [policy()]));
      expect(err.message).toMatch(/algorithm "HS256" is refused/);
    }
  });

  it('a tampered payload', async () => {
    const forged = await issuer.tampered({ repository: 'evil/app' });
    expect((await invalid(verifier().verify(forged, [policy({ claims: { repository: 'evil/app' } })]))).message).toMatch(/signature does not verify/);
  });

  it('a malformed token', async () => {
    expect((await invalid(verifier().verify('abc.def.ghi', [policy()]))).message).toMatch(/^the token is malformed/);
  });

  it('a valid token whose claims match no policy (403)', async () => {
    const err = await mismatch(verifier().verify(await issuer.sign({ repository: 'acme/other' }), [policy()]));
    expect(err.message).toMatch(/matches no trust policy .* \(claim "repository" is "acme\/other"\)/);
  });

  it('a policy with an http:// issuer, unless allowInsecure', async () => {
    const fetched = issuer.discoveryFetches;
    const err = await invalid(new OidcVerifier().verify(await issuer.sign(), [policy()]));
    expect(err.message).toMatch(/https/);
    expect(issuer.discoveryFetches).toBe(fetched);
  });
});

describe('unknown key ids', () => {
  it('lead to a refetch of the keys (after jose’s 30 s cooldown): a new key is accepted, an unknown one refused', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const v = verifier();
    await v.verify(await issuer.sign(), [policy()]);
    const fetched = issuer.jwksFetches;

    const kid = await issuer.addKey('ES256');
    const rotated = await issuer.sign({}, { kid });
    // Within the cooldown the cached keys answer: a flood of made-up kids cannot hammer the issuer.
    expect((await invalid(v.verify(rotated, [policy()]))).message).toMatch(new RegExp(`no key of issuer .* matches the token's key id "${kid}"`));
    expect(issuer.jwksFetches).toBe(fetched);

    vi.setSystemTime(Date.now() + 31_000);
    const { claims } = await v.verify(await issuer.sign({}, { kid }), [policy()]);
    expect(claims.repository).toBe('acme/app');
    expect(issuer.jwksFetches).toBe(fetched + 1);

    vi.setSystemTime(Date.now() + 31_000);
    const unknown = await issuer.sign({}, { header: { kid: 'no-such-key' } });
    expect((await invalid(v.verify(unknown, [policy()]))).message).toMatch(/matches the token's key id "no-such-key"/);
    expect(issuer.jwksFetches).toBe(fetched + 2);
  });
});

describe('claim patterns', () => {
  const check = async (claims: Record<string, string>, tokenClaims: Record<string, unknown> = {}) => {
    const token = await issuer.sign(tokenClaims);
    return verifier().verify(token, [policy({ claims })]);
  };

  it('match the whole value, with * for any run of characters including /', async () => {
    await check({ repository: 'acme/*' });
    await check({ repository: '*' });
    await check({ repository: 'acme/app*' });
    await check({ job_workflow_ref: 'acme/*/release.yml@refs/heads/*' });
    await check({ sub: 'repo:acme/*:ref:refs/heads/main', environment: 'production', ref: 'refs/heads/main' });
    await check({ ref: 'refs/tags/v*' }, { ref: 'refs/tags/v1.2.3' });
  });

  it('refuse what they do not match (403)', async () => {
    await mismatch(check({ repository: 'acme/*' }, { repository: 'acmex/app' }));
    await mismatch(check({ repository: 'acme/ap' }));
    await mismatch(check({ repository: 'cme/app' }));
    await mismatch(check({ repository: 'acme/app', ref: 'refs/tags/v*' }));
    // Everything but * is literal: '.' is no regex wildcard.
    await mismatch(check({ repository: 'acme/app.x' }, { repository: 'acme/appXx' }));
    await mismatch(check({ repository: 'a*b*c*d' }, { repository: 'a'.repeat(2000) }));
  });

  it('never match a claim the token lacks, even with *', async () => {
    const err = await mismatch(check({ environment: '*' }, { environment: undefined }));
    expect(err.message).toMatch(/claim "environment" is missing/);
  });

  it('compare a non-string claim as a string', async () => {
    await check({ run_number: '42', run_attempt: 'tru*' }, { run_number: 42, run_attempt: true });
  });
});

describe('the issuer’s configuration', () => {
  const issuers: TestIssuer[] = [];
  afterAll(async () => {
    await Promise.all(issuers.map((i) => i.close()));
  });
  const start = async (discovery: Record<string, unknown>) => {
    const started = await startOidcIssuer({ discovery });
    issuers.push(started);
    return started;
  };

  it('must name the issuer it was fetched for (503)', async () => {
    const liar = await start({ issuer: 'https://token.actions.githubusercontent.com' });
    const err = await refusal(verifier().verify(await liar.sign(), [policy({ issuer: liar.url })]), 503, 'oidc-issuer-unavailable');
    expect(err.message).toMatch(/names issuer "https:\/\/token.actions.githubusercontent.com"/);
  });

  it('must name a jwks_uri under the same scheme rules (503)', async () => {
    const plain = await start({ jwks_uri: 'http://keys.example.com/jwks' });
    const err = await refusal(verifier().verify(await plain.sign(), [policy({ issuer: plain.url })]), 503, 'oidc-issuer-unavailable');
    expect(err.message).toMatch(/jwks_uri http:\/\/keys.example.com\/jwks .* must be an https:\/\/ URL/);
  });

  it('is fetched with the injected fetch, and a failure is remembered only briefly', async () => {
    let now = Date.now();
    let calls = 0;
    const flaky: typeof fetch = async (input, init) => {
      calls++;
      if (calls === 1) throw new TypeError('fetch failed');
      return fetch(input, init);
    };
    const v = verifier({ fetch: flaky, now: () => now });
    const token = await issuer.sign();
    expect((await refusal(v.verify(token, [policy()]), 503, 'oidc-issuer-unavailable')).message).toMatch(/could not read the OpenID configuration .*: fetch failed/);
    await refusal(v.verify(token, [policy()]), 503, 'oidc-issuer-unavailable');
    expect(calls).toBe(1);
    now += 11_000;
    await v.verify(token, [policy()]);
    expect(calls).toBe(3);
  });
});

describe('looksLikeJwt', () => {
  it('recognises three base64url segments', async () => {
    expect(looksLikeJwt(await issuer.sign())).toBe(true);
    expect(looksLikeJwt(issuer.unsigned())).toBe(true);
    for (const s of ['pyt_0123456789abcdef_' + '0'.repeat(40), 'a.b', 'a.b.c.d', 'a+b.c.d', '.b.c', '']) expect(looksLikeJwt(s)).toBe(false);
  });
});

describe('oidcPolicySchema', () => {
  const base = { issuer: 'https://token.actions.githubusercontent.com', audience: 'packyard', scopes: ['write'] };
  const issues = (input: unknown, allowInsecure = false) => {
    const result = oidcPolicySchema({ allowInsecure }).safeParse(input);
    return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('accepts a policy, claims defaulting to none', () => {
    expect(oidcPolicySchema().parse(base)).toEqual({ ...base, claims: {} });
    expect(issues({ ...base, claims: { repository: 'acme/*', job_workflow_ref: 'acme/workflows/*@refs/heads/main' }, scopes: ['read', 'admin'] })).toEqual([]);
  });

  it('admits http:// only on a loopback host, and only when allowInsecure', () => {
    for (const host of ['127.0.0.1:8080', '[::1]', 'localhost:3000']) {
      expect(issues({ ...base, issuer: `http://${host}` })).toEqual(['issuer: must be an https:// URL (plain http:// on a loopback host needs allowInsecure)']);
      expect(issues({ ...base, issuer: `http://${host}` }, true)).toEqual([]);
    }
    expect(issues({ ...base, issuer: 'http://issuer.example.com' }, true)).toEqual(['issuer: must be an https:// URL (plain http:// is allowed only on 127.0.0.1, ::1 or localhost)']);
    expect(issues({ ...base, issuer: 'ftp://issuer.example.com' }, true)).toEqual(['issuer: must be an https:// URL']);
    expect(issues({ ...base, issuer: 'token.actions.githubusercontent.com' })).toEqual(['issuer: is not a URL']);
    expect(issues({ ...base, issuer: 'https://issuer.example.com/?tenant=1' })).toEqual(['issuer: must not have credentials, a query or a fragment']);
  });

  it('names the problem with claims, scopes, audience and unknown keys', () => {
    expect(issues({ ...base, claims: { Repository: 'acme/app' } })).toEqual(['claims.Repository: a claim name is lowercase letters and underscores (e.g. "repository", "job_workflow_ref")']);
    expect(issues({ ...base, claims: { 'repo-name': 'x' } })).toHaveLength(1);
    expect(issues({ ...base, claims: { aud: 'x' } })).toEqual(['claims.aud: "aud" is checked by the verifier itself; set "issuer" and "audience" instead']);
    expect(issues({ ...base, claims: { repository: '' } })).toEqual(['claims.repository: must not be empty (use "*" to require only that the claim exists)']);
    expect(issues({ ...base, claims: { repository: 1 } })).toHaveLength(1);
    expect(issues({ ...base, scopes: [] })).toEqual(['scopes: needs at least one of "read", "write", "admin"']);
    expect(issues({ ...base, scopes: ['publish'] })).toEqual(['scopes.0: must be "read", "write" or "admin"']);
    expect(issues({ ...base, audience: '' })).toEqual(['audience: must be non-empty, without spaces']);
    expect(issues({ issuer: base.issuer, scopes: ['read'] })).toHaveLength(1);
    expect(issues({ ...base, subject: 'x' })).toEqual([': Unrecognized key: "subject"']);
  });

  it('newOidcPolicy gives a policy an id and a date, or a 400 naming the field', () => {
    const made = newOidcPolicy({ ...base, claims: { repository: 'acme/app' } }, {}, new Date('2026-02-03T04:05:06Z'));
    expect(made).toEqual({ id: expect.stringMatching(/^[0-9a-f]{32}$/), ...base, claims: { repository: 'acme/app' }, createdAt: '2026-02-03T04:05:06.000Z' });
    expect(() => newOidcPolicy({ ...base, issuer: 'http://127.0.0.1' })).toThrow(expect.objectContaining({ status: 400, code: 'invalid-request', message: expect.stringMatching(/^issuer: must be an https/) }));
  });
});
