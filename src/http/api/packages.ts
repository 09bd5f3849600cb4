import type { Hono } from 'hono';
import { snapshotInfo } from '../../core/views.js';
import type { ApiContext, Env } from './middleware.js';
import { flag, required, uploadedFiles } from './request.js';

/** A repository's packages: publish, list, remove. */
export function packageRoutes(api: Hono<Env>, { service, needs, readable }: ApiContext): void {
  api.post('/repos/:repo/packages', needs('write'), async (c) => {
    const distribution = required(c, 'distribution');
    const component = c.req.query('component') ?? 'main';
    const replace = flag(c, 'replace');
    const createDistribution = flag(c, 'createDistribution');
    const result = await service.upload(c.req.param('repo'), uploadedFiles(c.req.raw), { distribution, component, replace, createDistribution, actor: c.get('actor') });
    return c.json(
      {
        snapshot: snapshotInfo(result.snapshot),
        changed: result.changed,
        // Times the publish lost the head swap to another node and built again (contention).
        retries: result.retries,
        packages: result.packages,
      },
      result.changed ? 201 : 200,
    );
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
}
