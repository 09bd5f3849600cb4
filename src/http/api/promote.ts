import type { Hono } from 'hono';
import { PackyardError } from '../../util/errors.js';
import { snapshotInfo } from '../../core/views.js';
import { copyPackages, copySchema } from '../../core/promote.js';
import { parseInput } from '../../util/input.js';
import { rollback } from '../../core/rollback.js';
import { diffSnapshots, SNAPSHOT_ID } from '../../core/diff.js';
import type { ApiContext, Env } from './middleware.js';
import { jsonBody, required } from './request.js';

/** Releasing in stages: copy (or move) packages between distributions, roll back to a snapshot, compare two. */
export function promoteRoutes(api: Hono<Env>, { service, access, credentials, needs, readable }: ApiContext): void {
  api.post('/repos/:repo/copy', needs('write'), async (c) => {
    const body = parseInput(copySchema, await jsonBody(c));
    const fromRepo = body.fromRepo;
    // Copying out of another repository reads it: the caller must be allowed to.
    if (fromRepo !== undefined && fromRepo !== c.req.param('repo')) {
      const source = await service.store.current(fromRepo).catch(() => null);
      if (!source?.settings.public) await access.require(credentials(c), fromRepo, 'read');
    }
    const result = await copyPackages(service, c.req.param('repo'), body, c.get('actor'));
    return c.json({ snapshot: snapshotInfo(result.snapshot), changed: result.changed, packages: result.packages }, result.changed ? 201 : 200);
  });

  // It changes distributions' settings too, as only admins do.
  api.post('/repos/:repo/rollback', needs('admin'), async (c) => {
    const result = await rollback(service, c.req.param('repo'), await jsonBody(c), c.get('actor'));
    return c.json({ snapshot: { ...snapshotInfo(result.snapshot), changes: result.snapshot.changes } }, 201);
  });

  api.get('/repos/:repo/diff', readable, async (c) => {
    const repo = c.req.param('repo');
    const head = await service.getRepo(repo);
    const load = async (id: string) => {
      if (!SNAPSHOT_ID.test(id)) throw new PackyardError(400, 'invalid-parameter', `invalid snapshot id "${id}"`);
      const snapshot = id === head.id ? head : await service.store.snapshot(repo, id);
      if (!snapshot) throw new PackyardError(404, 'snapshot-not-found', `repository ${repo} has no snapshot ${id}`);
      return snapshot;
    };
    const [from, to] = await Promise.all([load(required(c, 'from')), load(c.req.query('to') ?? head.id)]);
    const places = await diffSnapshots(service.store, service.formats.of(head), from, to);
    return c.json({ from: snapshotInfo(from), to: snapshotInfo(to), places });
  });
}
