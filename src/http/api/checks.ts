import type { Hono } from 'hono';
import { PackyardError } from '../../util/errors.js';
import { readJson } from '../../storage/types.js';
import { checkRepo, type CheckResult } from '../check.js';
import { checkLayout } from '../storage-keys.js';
import type { ApiContext, Env } from './middleware.js';
import type { PoolEntry } from '../../core/snapshot.js';
import { flag } from './request.js';

/** The heartbeat: walk a repository as its clients do, and the last result kept for whoever alerts on it. */
export function checkRoutes(api: Hono<Env>, { service, sources, access, credentials, readable, self }: ApiContext): void {
  // 200 whether or not it passed: the result says (ok, broken); an error status means the check itself failed.
  api.get('/repos/:repo/check', readable, async (c) => {
    const repo = c.req.param('repo');
    const snapshot = await service.getRepo(repo);
    const full = flag(c, 'full');
    // A walk requests every file (and may hash them all), and its result is what alerts read: it
    // needs a credential that may read the repository, even a public one.
    await access.require(credentials(c), repo, 'read');
    const app = self(c);
    // Pool files whose source now describes them otherwise are hashed even in a quick walk. A
    // source that cannot say (GitHub unreachable, rate-limited) leaves the walk as it is.
    const changed = await sources.changed(snapshot).catch(() => undefined);
    const check = await checkRepo(service.store, service.formats, repo, {
      local: app.fetch,
      origin: app.origin,
      // The caller may read the repository (or it is public): the walk reads it as the caller.
      authorization: c.req.header('authorization'),
      createHasher: service.deps.createHasher,
      full,
      ...(changed ? { changed: (_path: string, entry: PoolEntry) => entry.remote !== undefined && changed({ ...entry, remote: entry.remote }) } : {}),
    });
    await service.store.storage.put(checkLayout.last(repo), JSON.stringify(check));
    return c.json({ check });
  });

  api.get('/repos/:repo/check/last', readable, async (c) => {
    const repo = c.req.param('repo');
    await service.getRepo(repo);
    const check = await readJson<CheckResult>(service.store.storage, checkLayout.last(repo));
    if (!check) throw new PackyardError(404, 'no-check', `${repo} has not been checked yet`);
    return c.json({ check });
  });
}
