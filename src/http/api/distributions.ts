import type { Hono } from 'hono';
import { snapshotInfo } from '../../core/views.js';
import type { ApiContext, Env } from './middleware.js';

/** A repository's lifecycle: taking a distribution out. */
export function distributionRoutes(api: Hono<Env>, { service, needs }: ApiContext): void {
  api.delete('/repos/:repo/distributions/:distribution', needs('admin'), async (c) => {
    const snapshot = await service.removeDistribution(c.req.param('repo'), c.req.param('distribution'), c.get('actor'));
    return c.json({ snapshot: snapshotInfo(snapshot) });
  });
}
