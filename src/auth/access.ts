import { PackyardError } from '../util/errors.js';
import type { Storage } from '../storage/types.js';
import type { AdminToken } from './admin-token.js';
import { allows, Authenticator, type Identity } from './identity.js';
import { OidcVerifier } from './oidc.js';
import { OidcPolicies } from './oidc-policies.js';
import { Throttle, type ThrottleOptions } from './throttle.js';
import { ApiTokens, type Scope } from './tokens.js';

/** What access control needs of a request, whatever the host. */
export interface Credentials {
  header(name: string): string | undefined;
  /** The client's address, for throttling. */
  client: string;
  /** Told when the request presented a valid credential (a host may then trust its connection more). */
  identified?(): void;
}

export interface AccessOptions {
  /** Accept `http://` OIDC issuers on loopback addresses (tests only: PACKYARD_OIDC_ALLOW_INSECURE=1). */
  allowInsecureOidc?: boolean;
  fetch?: typeof fetch;
  now?: () => number;
  /** Limits of the failed-authentication throttle (tests make them small). */
  throttle?: Omit<ThrottleOptions, 'now'>;
}

// apt reports a 401 and stops; `Basic` makes curl and browsers ask too.
const CHALLENGE = { 'www-authenticate': 'Basic realm="packyard", charset="UTF-8"' };

/** Access control: who a request is (admin token, API tokens, OIDC trust policies) and what it may do. */
export class Access {
  readonly tokens: ApiTokens;
  readonly policies: OidcPolicies;
  private readonly auth: Authenticator;

  constructor(storage: Storage, admin: AdminToken, options: AccessOptions = {}) {
    this.tokens = new ApiTokens(storage);
    const allowInsecure = options.allowInsecureOidc ?? false;
    this.policies = new OidcPolicies(storage, { now: options.now, allowInsecure });
    const oidc = new OidcVerifier({ allowInsecure, fetch: options.fetch, now: options.now });
    this.auth = new Authenticator({ admin, tokens: this.tokens, oidc, policies: this.policies, throttle: new Throttle({ ...options.throttle, now: options.now }), now: options.now });
  }

  /** The request's identity; null when it presents no credential. */
  async identify(request: Credentials, repo?: string): Promise<Identity | null> {
    try {
      const identity = await this.auth.identify(request.header('authorization'), repo, request.client);
      if (identity) request.identified?.();
      return identity;
    } catch (err) {
      if (err instanceof PackyardError && err.status === 401) throw new PackyardError(401, err.code, err.message, CHALLENGE);
      throw err;
    }
  }

  /** The identity, when it may do `need` in `repo` (or is the server-wide admin, for `repo` null); else 401 or 403. */
  async require(request: Credentials, repo: string | null, need: Scope): Promise<Identity> {
    const identity = await this.identify(request, repo ?? undefined);
    if (!identity) throw new PackyardError(401, 'unauthenticated', 'this request needs a token: "Authorization: Bearer <token>", or Basic auth with the token as password', CHALLENGE);
    if (repo === null ? !identity.admin : !allows(identity, repo, need)) {
      throw new PackyardError(403, 'forbidden', repo === null ? 'this request needs the server-wide admin token' : `the token may not ${need === 'read' ? 'read' : need === 'write' ? 'publish to' : 'administer'} repository ${repo}`);
    }
    return identity;
  }
}
