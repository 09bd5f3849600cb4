import type { Context, MiddlewareHandler } from 'hono';
import { createMiddleware } from 'hono/factory';
import { PackyardError } from '../../util/errors.js';
import type { RepositoryService } from '../../core/service.js';
import type { Sources } from '../../sources/index.js';
import { REPO_NAME } from '../../core/layout.js';
import type { Access, Credentials } from '../../auth/access.js';
import type { Scope } from '../../auth/tokens.js';

export interface ApiDeps {
  service: RepositoryService;
  sources: Sources;
  access: Access;
  clientOf(c: Context): string;
  /** Told when a request presented a valid credential. */
  identified(c: Context): void;
  /** The app itself as this request's client reaches it (its origin, and a fetch through the whole app): for the heartbeat. */
  self(c: Context): { origin: string; fetch: (request: Request) => Promise<Response> };
}

export type Env = { Variables: { actor: string } };

/** What every resource's routes are given: the dependencies and the checks a route says it needs. */
export interface ApiContext extends ApiDeps {
  /** A request's credentials, for access control. */
  credentials(c: Context): Credentials;
  /** Needs `scope` in the route's repository, or the server-wide admin for `'server-admin'`. */
  needs(scope: Scope | 'server-admin'): MiddlewareHandler<Env>;
  /**
   * Reading: anyone for a public repository, else a credential that may read it. The head as
   * cached, as for repository files; a bad name or a missing repository is the handler's to answer.
   */
  readable: MiddlewareHandler<Env>;
}

export function apiContext(deps: ApiDeps): ApiContext {
  const { service, access, clientOf, identified } = deps;
  const credentials = (c: Context) => ({ header: (name: string) => c.req.header(name), client: clientOf(c), identified: () => identified(c) });

  const needs = (scope: Scope | 'server-admin') =>
    createMiddleware<Env>(async (c, next) => {
      checkParams(c);
      const identity = await access.require(credentials(c), scope === 'server-admin' ? null : c.req.param('repo')!, scope === 'server-admin' ? 'admin' : scope);
      c.set('actor', identity.actor);
      await next();
    });

  const readable = createMiddleware<Env>(async (c, next) => {
    checkParams(c);
    const repo = c.req.param('repo')!;
    const snapshot = await service.store.current(repo);
    if (snapshot && !snapshot.settings.public) await access.require(credentials(c), repo, 'read');
    await next();
  });

  return { ...deps, credentials, needs, readable };
}

/** A parameter other than a repository name: one path segment that cannot climb out of a storage key. */
const PARAM = /^(?!\.\.?$)[^/\\\0]{1,256}$/;

/**
 * Every path parameter is checked before it reaches access control or storage (Hono has decoded
 * them, so `%2F` is a `/` here): the repository's name by the rule names are made with.
 */
function checkParams(c: Context): void {
  for (const [name, value] of Object.entries(c.req.param() as Record<string, string>)) {
    if (name === 'repo' && !REPO_NAME.test(value)) throw new PackyardError(400, 'invalid-repo-name', `invalid repository name "${value}"`);
    if (name !== 'repo' && !PARAM.test(value)) throw new PackyardError(400, 'invalid-parameter', `invalid ${name} "${value}"`);
  }
}
