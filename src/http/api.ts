import { Hono, type Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { PackyardError } from '../util/errors.js';
import type { RepositoryService, UploadFile } from '../core/service.js';
import { distributionsOf, type Snapshot } from '../core/snapshot.js';
import { REPO_NAME } from '../core/layout.js';
import type { UploadSession } from '../core/uploads.js';
import type { PartInfo } from '../storage/types.js';
import { packageInfo, snapshotInfo } from '../core/views.js';
import type { Access } from '../auth/access.js';
import { allows } from '../auth/identity.js';
import type { Scope } from '../auth/tokens.js';
import { boundaryOf, parseMultipart } from '../util/multipart.js';
import { gc } from '../core/gc.js';
import { own } from '../util/own.js';

export interface ApiDeps {
  service: RepositoryService;
  access: Access;
  clientOf(c: Context): string;
  /** Told when a request presented a valid credential. */
  identified(c: Context): void;
}

type Env = { Variables: { actor: string } };

/** The JSON API under `/api/v1`. Each route says what it needs; `actor` is who, for the audit trail. */
export function createApi({ service, access, clientOf, identified }: ApiDeps): Hono<Env> {
  const api = new Hono<Env>();
  const credentials = (c: Context) => ({ header: (name: string) => c.req.header(name), client: clientOf(c), identified: () => identified(c) });

  /** Needs `scope` in the route's repository, or the server-wide admin for `'server-admin'`. */
  const needs = (scope: Scope | 'server-admin') =>
    createMiddleware<Env>(async (c, next) => {
      checkParams(c);
      const identity = await access.require(credentials(c), scope === 'server-admin' ? null : c.req.param('repo')!, scope === 'server-admin' ? 'admin' : scope);
      c.set('actor', identity.actor);
      await next();
    });

  /**
   * Reading: anyone for a public repository, else a credential that may read it. The head as
   * cached, as for repository files; a bad name or a missing repository is the handler's to answer.
   */
  const readable = createMiddleware<Env>(async (c, next) => {
    checkParams(c);
    const repo = c.req.param('repo')!;
    const snapshot = await service.store.current(repo);
    if (snapshot && !snapshot.settings.public) await access.require(credentials(c), repo, 'read');
    await next();
  });

  api.get('/repos', async (c) => {
    const identity = await access.identify(credentials(c));
    const snapshots = await Promise.all((await service.listRepos()).map((name) => service.getRepo(name)));
    const visible = snapshots.filter((s) => s.settings.public || (identity && allows(identity, s.repo, 'read')));
    return c.json({ repos: visible.map(summary) });
  });

  api.post('/repos', needs('server-admin'), async (c) => c.json({ repo: summary(await service.createRepo(await jsonBody(c), c.get('actor'))) }, 201));

  api.get('/repos/:repo', readable, async (c) => c.json({ repo: summary(await service.getRepo(c.req.param('repo'))) }));

  api.patch('/repos/:repo', needs('admin'), async (c) => c.json({ repo: summary(await service.updateRepo(c.req.param('repo'), await jsonBody(c), c.get('actor'))) }));

  api.delete('/repos/:repo', needs('admin'), async (c) => {
    await service.deleteRepo(c.req.param('repo'));
    await access.policies.removeAll(c.req.param('repo'));
    return c.body(null, 204);
  });

  api.post('/repos/:repo/packages', needs('write'), async (c) => {
    const distribution = required(c, 'distribution');
    const component = c.req.query('component') ?? 'main';
    const replace = flag(c, 'replace');
    const result = await service.upload(c.req.param('repo'), uploadedFiles(c.req.raw), { distribution, component, replace, actor: c.get('actor') });
    return c.json(
      {
        snapshot: snapshotInfo(result.snapshot),
        changed: result.changed,
        packages: result.packages.map(packageInfo),
      },
      result.changed ? 201 : 200,
    );
  });

  // Resumable uploads: one package file sent in parts (each its own request, so no request
  // carries more than a part), then published by naming it in POST .../packages.
  api.post('/repos/:repo/uploads', needs('write'), async (c) => {
    const session = await service.startUpload(c.req.param('repo'), await jsonBody(c), c.get('actor'));
    return c.json({ upload: uploadInfo(session, []) }, 201);
  });

  api.get('/repos/:repo/uploads/:id', needs('write'), async (c) => {
    const { session, received } = await service.uploadStatus(c.req.param('repo'), c.req.param('id'));
    return c.json({ upload: uploadInfo(session, received) });
  });

  api.put('/repos/:repo/uploads/:id/parts/:part', needs('write'), async (c) => {
    const length = c.req.header('content-length');
    const size = length === undefined || !/^\d+$/.test(length) ? undefined : Number(length);
    const body = c.req.raw.body ?? new Blob([]).stream();
    const part = await service.putUploadPart(c.req.param('repo'), c.req.param('id'), Number(c.req.param('part')), body, size);
    return c.json({ part });
  });

  api.delete('/repos/:repo/uploads/:id', needs('write'), async (c) => {
    await service.abortUpload(c.req.param('repo'), c.req.param('id'));
    return c.body(null, 204);
  });

  api.get('/repos/:repo/packages', readable, async (c) => {
    const packages = await service.listPackages(c.req.param('repo'), { distribution: c.req.query('distribution'), q: c.req.query('q') });
    return c.json({ packages });
  });

  api.delete('/repos/:repo/packages/:name/:version/:arch', needs('write'), async (c) => {
    const snapshot = await service.remove(
      c.req.param('repo'),
      { distribution: required(c, 'distribution'), component: c.req.query('component'), package: c.req.param('name'), version: c.req.param('version'), architecture: c.req.param('arch') },
      c.get('actor'),
    );
    return c.json({ snapshot: snapshotInfo(snapshot) });
  });

  // What `packyard gc` does, for hosts without a data directory to run it on (the Worker).
  api.post('/repos/:repo/gc', needs('admin'), async (c) => {
    const repo = c.req.param('repo');
    await service.getRepo(repo);
    return c.json({ report: await gc(service.store, repo, { dryRun: flag(c, 'dry-run') }) });
  });

  api.get('/repos/:repo/snapshots', readable, async (c) => {
    const limit = Math.min(Math.max(Number(c.req.query('limit') ?? 50) || 50, 1), 1000);
    const snapshots = await service.snapshots(c.req.param('repo'), limit);
    return c.json({ snapshots: snapshots.map((s) => ({ ...snapshotInfo(s), changes: s.changes })) });
  });

  api.post('/tokens', needs('server-admin'), async (c) => {
    const { token, info } = await access.tokens.create(await jsonBody(c), c.get('actor'), new Date());
    return c.json({ ...info, token }, 201);
  });

  api.get('/tokens', needs('server-admin'), async (c) => c.json({ tokens: await access.tokens.list() }));

  api.delete('/tokens/:id', needs('server-admin'), async (c) => {
    await access.tokens.revoke(c.req.param('id'));
    return c.body(null, 204);
  });

  api.post('/repos/:repo/oidc-policies', needs('admin'), async (c) => {
    const repo = c.req.param('repo');
    await service.getRepo(repo);
    const policy = await access.policies.add(repo, await jsonBody(c));
    return c.json({ policy }, 201);
  });

  api.get('/repos/:repo/oidc-policies', needs('admin'), async (c) => c.json({ policies: await access.policies.list(c.req.param('repo')) }));

  api.delete('/repos/:repo/oidc-policies/:id', needs('admin'), async (c) => {
    await access.policies.remove(c.req.param('repo'), c.req.param('id'));
    return c.body(null, 204);
  });

  return api;
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

function required(c: Context, name: string): string {
  const value = c.req.query(name);
  if (!value) throw new PackyardError(400, 'missing-parameter', `query parameter "${name}" is required`);
  return value;
}

function flag(c: Context, name: string): boolean {
  return ['1', 'true', 'yes'].includes(c.req.query(name) ?? '');
}

async function jsonBody(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    throw new PackyardError(400, 'invalid-json', 'the request body must be JSON');
  }
}

/**
 * The upload's files: each `file` part of a multipart body and each resumable upload named by an
 * `upload` part; or the uploads listed in a JSON body (`{"uploads": [id, …]}`); or the whole
 * body as one `.deb`.
 */
async function* uploadedFiles(request: Request): AsyncGenerator<UploadFile> {
  if (!request.body) throw new PackyardError(400, 'no-files', 'the upload has no body');
  const type = request.headers.get('content-type');
  if (type?.split(';')[0]!.trim() === 'application/json') {
    yield* uploadsNamedIn(await request.json().catch(() => null));
    return;
  }
  const boundary = boundaryOf(type);
  if (!boundary) {
    if (type?.startsWith('multipart/')) throw new PackyardError(400, 'bad-multipart', 'multipart body without a boundary');
    const body = request.body;
    yield { name: 'body', open: () => body };
    return;
  }
  for await (const part of parseMultipart(request.body, boundary)) {
    if (part.name === 'upload') {
      const id = await shortText(part.body, 256);
      yield { name: `upload ${id}`, upload: id };
      continue;
    }
    if (part.name !== 'file') {
      await part.body.cancel();
      continue;
    }
    yield { name: part.filename ?? 'file', open: () => part.body };
  }
  await drainEpilogue(request.body);
}

/** A small text field's value; refuses more than `max` bytes rather than buffering them. */
async function shortText(body: ReadableStream<Uint8Array>, max: number): Promise<string> {
  let text = '';
  const decoder = new TextDecoder();
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text.trim();
    text += decoder.decode(value, { stream: true });
    if (text.length > max) {
      await reader.cancel();
      throw new PackyardError(400, 'bad-multipart', `a form field is longer than ${max} bytes`);
    }
  }
}

function* uploadsNamedIn(json: unknown): Generator<UploadFile> {
  const ids = (json as { uploads?: unknown } | null)?.uploads;
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) throw new PackyardError(400, 'invalid-json', 'a JSON body must be {"uploads": ["<upload id>", …]}');
  for (const id of ids) yield { name: `upload ${id}`, upload: id };
}

function uploadInfo(session: UploadSession, received: PartInfo[]) {
  return { id: session.id, name: session.name, size: session.size, partSize: session.partSize, parts: session.parts, received: received.map((p) => p.part), createdAt: session.createdAt };
}

/**
 * Reads what follows the closing boundary (usually a CRLF) to the end: a request body left
 * unread keeps a kept-alive connection from carrying the client's next request.
 */
async function drainEpilogue(body: ReadableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader();
  for (let total = 0; ; ) {
    const { done, value } = await reader.read();
    if (done) return;
    total += value.length;
    if (total > 64 * 1024) throw new PackyardError(400, 'bad-multipart', 'more than 64 KiB of data after the closing boundary');
  }
}

function summary(s: Snapshot) {
  return {
    name: s.repo,
    type: s.type,
    public: s.settings.public ?? false,
    architectures: s.settings.architectures,
    distributions: Object.fromEntries(
      distributionsOf(s).map((d) => [d, { ...own(s.settings.distributions, d), components: Object.keys(own(s.lists, d) ?? {}).sort() }]),
    ),
    snapshot: snapshotInfo(s),
  };
}
