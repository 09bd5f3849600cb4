import { Hono, type Context } from 'hono';
import { PackyardError } from '../util/errors.js';
import type { RepositoryService } from '../core/service.js';
import type { Access } from '../auth/access.js';
import type { Signer } from '../signing/signer.js';
import { createApi } from './api/index.js';
import { RepoFiles } from './repo-files.js';
import { Sources } from '../sources/index.js';
import { errorResponse, failureEntry } from './errors.js';

export interface AppDeps {
  service: RepositoryService;
  access: Access;
  signer: Signer;
  /** The client's address as the host knows it; by default Cloudflare's `CF-Connecting-IP`. */
  clientOf?: (c: Context) => string;
  log?: (entry: Record<string, unknown>) => void;
  /** Shared with a host that also serves repository files by its own faster path. */
  files?: RepoFiles;
  /** Told when a request presented a valid credential (the Node host stops counting its connection as anonymous). */
  identified?: (c: Context) => void;
  /** The sources repositories sync from (a host shares them with its periodic syncs); by default, made for `service`. */
  sources?: Sources;
}

/** The whole HTTP surface, written against web standards so every host serves the same app. */
export function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  const sources = deps.sources ?? new Sources({ service: deps.service });
  const files = deps.files ?? new RepoFiles({ ...deps, sources });
  const clientOf = deps.clientOf ?? ((c: Context) => edgeClient((name) => c.req.header(name)));
  // Requests whose credential was valid: only theirs is an unread body worth reading on.
  const authenticated = new WeakSet<Request>();
  const identified = (c: Context) => {
    authenticated.add(c.req.raw);
    deps.identified?.(c);
  };
  const requestView = (c: Context) => ({
    method: c.req.method,
    header: (name: string) => c.req.header(name),
    client: clientOf(c),
    identified: () => identified(c),
    origin: () => originOf(c.req.url, c.req.header('x-forwarded-proto')),
  });

  app.onError(async (err, c) => {
    if (authenticated.has(c.req.raw)) await dropUnreadBody(c.req.raw);
    if (!(err instanceof PackyardError)) deps.log?.(failureEntry(c.req.method, c.req.path, err));
    return errorResponse(err);
  });
  app.notFound((c) => errorResponse(new PackyardError(404, 'not-found', `no such path: ${c.req.path}`)));

  if (deps.log) {
    const log = deps.log;
    // Reads are the hot path: log only writes and failures.
    app.use('*', async (c, next) => {
      const started = performance.now();
      await next();
      if (c.res.status >= 400 || (c.req.method !== 'GET' && c.req.method !== 'HEAD')) {
        log({ level: c.res.status >= 500 ? 'error' : 'info', msg: 'request', method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - started) });
      }
    });
  }

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  // The heartbeat's requests go through the whole app, as a client's do, from the caller's connection (`c.env`).
  const self = (c: Context) => ({ origin: originOf(c.req.url, c.req.header('x-forwarded-proto')), fetch: (request: Request) => Promise.resolve(app.fetch(request, c.env)) });
  app.route('/api/v1', createApi({ ...deps, sources, clientOf, identified, self }));

  // Terraform's service discovery: relative URLs, so they keep the scheme and host the client used (a TLS proxy in front).
  app.get('/.well-known/terraform.json', (c) => c.json({ 'modules.v1': '/-/terraform/modules/v1/', 'providers.v1': '/-/terraform/providers/v1/' }));
  // The registry protocols, one namespace per repository (`/-/` is no repository's name: names start with a letter or digit).
  app.on(['GET', 'HEAD'], '/-/terraform/modules/v1/:repo', async (c) => {
    const plan = await files.planUrl(requestView(c), `/${c.req.param('repo')}/terraform/modules`, new URL(c.req.url).search.slice(1));
    return plan ? files.objects.toResponse(plan) : errorResponse(new PackyardError(404, 'not-found', `${c.req.path}: not found`));
  });
  app.on(['GET', 'HEAD'], '/-/terraform/:protocol{modules|providers}/v1/:repo/*', async (c) => {
    // The repository's segment as sent (still encoded): planUrl decodes and checks the whole path once.
    const [repo, ...rest] = rawPath(c.req.url).split('/').slice(5);
    const plan = await files.planUrl(requestView(c), `/${repo}/terraform/${c.req.param('protocol')}/${rest.join('/')}`, new URL(c.req.url).search.slice(1));
    return plan ? files.objects.toResponse(plan) : errorResponse(new PackyardError(404, 'not-found', `${c.req.path}: not found`));
  });

  app.on(['GET', 'HEAD'], '/:repo/*', async (c) => {
    const plan = await files.planUrl(requestView(c), rawPath(c.req.url), new URL(c.req.url).search.slice(1));
    return plan ? files.objects.toResponse(plan) : errorResponse(new PackyardError(404, 'not-found', `${c.req.path}: file not found`));
  });

  return app;
}

/** The client's address as Cloudflare's edge tells it. */
export function edgeClient(header: (name: string) => string | undefined): string {
  return header('cf-connecting-ip') ?? 'unknown';
}

/** The origin the client used: the request URL's, with a proxy's `X-Forwarded-Proto` when there is one. */
export function originOf(url: string, forwardedProto: string | undefined): string {
  const origin = new URL(url).origin;
  return forwardedProto === 'https' && origin.startsWith('http:') ? `https:${origin.slice(5)}` : origin;
}

/** Up to this much of a refused request's unread body is read to its end. */
export const DRAIN_LIMIT = 1024 * 1024;

/**
 * An authenticated request refused before its body was read whole (a bad package): read the
 * rest of a small body, so the client sees the answer rather than a reset, and a Worker that
 * streamed the body on to a Durable Object is not left reading it after the answer, which
 * workerd forbids; a larger one is cancelled. A request without a valid credential is answered
 * at once, its body unread: reading it would let anyone hold the connection.
 */
export async function dropUnreadBody(request: Request): Promise<void> {
  if (!request.body || request.bodyUsed || request.body.locked) return;
  const reader = request.body.getReader();
  try {
    for (let read = 0; read <= DRAIN_LIMIT; ) {
      const chunk = await reader.read();
      if (chunk.done) return;
      read += chunk.value.length;
    }
    await reader.cancel();
  } catch {
    // The client went away: nothing left to read.
  }
}

/** The path of a request URL or target as sent (Hono's own `path` is already partly decoded). */
export function rawPath(url: string): string {
  const start = url.startsWith('/') ? 0 : url.indexOf('/', url.indexOf('://') + 3);
  const end = url.search(/[?#]/);
  return url.slice(start, end < 0 ? undefined : end);
}

