import type { Hono } from 'hono';
import { distributionsOf, type Snapshot } from '../../core/snapshot.js';
import { snapshotInfo } from '../../core/views.js';
import { allows } from '../../auth/identity.js';
import { gc } from '../../core/gc.js';
import { own } from '../../util/own.js';
import { checkLayout } from '../storage-keys.js';
import type { ApiContext, Env } from './middleware.js';
import { flag, jsonBody } from './request.js';

/** Repositories: list, create, read, change, delete; their snapshot history and gc. */
export function repoRoutes(api: Hono<Env>, { service, sources, access, credentials, needs, readable }: ApiContext): void {
  // What a repository's source is shows beside its settings, its secrets only as "set".
  const summary = async (s: Snapshot) => {
    const source = await sources.show(s);
    return { ...settingsSummary(s), ...(source ? { source } : {}) };
  };

  api.get('/repos', async (c) => {
    const identity = await access.identify(credentials(c));
    const snapshots = await Promise.all((await service.listRepos()).map((name) => service.getRepo(name)));
    const visible = snapshots.filter((s) => s.settings.public || (identity && allows(identity, s.repo, 'read')));
    return c.json({ repos: await Promise.all(visible.map(summary)) });
  });

  api.post('/repos', needs('server-admin'), async (c) => c.json({ repo: await summary(await sources.createRepo(await jsonBody(c), c.get('actor'))) }, 201));

  api.get('/repos/:repo', readable, async (c) => c.json({ repo: await summary(await service.getRepo(c.req.param('repo'))) }));

  api.patch('/repos/:repo', needs('admin'), async (c) => c.json({ repo: await summary(await sources.updateRepo(c.req.param('repo'), await jsonBody(c), c.get('actor'))) }));

  api.delete('/repos/:repo', needs('admin'), async (c) => {
    await sources.deleteRepo(c.req.param('repo'));
    await access.policies.removeAll(c.req.param('repo'));
    await service.store.storage.delete(checkLayout.last(c.req.param('repo')));
    return c.body(null, 204);
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
}

function settingsSummary(s: Snapshot) {
  return {
    name: s.repo,
    type: s.type,
    public: s.settings.public ?? false,
    architectures: s.settings.architectures,
    ...(s.settings.retention ? { retention: s.settings.retention } : {}),
    distributions: Object.fromEntries(
      distributionsOf(s).map((d) => [d, { ...own(s.settings.distributions, d), components: Object.keys(own(s.lists, d) ?? {}).sort() }]),
    ),
    snapshot: snapshotInfo(s),
  };
}
