import type { Context, Hono } from 'hono';
import { PackyardError } from '../../util/errors.js';
import { snapshotInfo } from '../../core/views.js';
import type { Coordinates } from '../../core/format.js';
import type { ApiContext, Env } from './middleware.js';
import { flag } from './request.js';

/**
 * Publishing to a Terraform repository: a module version's archive, a provider's zip for one
 * platform, a mirrored provider's zip; each body streamed, each one atomic publish.
 */
export function terraformRoutes(api: Hono<Env>, { service, needs }: ApiContext): void {
  const publish = async (c: Context<Env>, coordinates: Coordinates, name: string) => {
    const body = c.req.raw.body;
    if (!body) throw new PackyardError(400, 'no-files', 'the request has no body: send the archive as the body');
    const result = await service.upload(c.req.param('repo')!, [{ name, open: () => body }], { coordinates, replace: flag(c, 'replace'), actor: c.get('actor') });
    return c.json({ snapshot: snapshotInfo(result.snapshot), changed: result.changed, packages: result.packages }, result.changed ? 201 : 200);
  };

  api.post('/repos/:repo/modules/:name/:system/:version', needs('write'), (c) => {
    const { name, system, version } = c.req.param();
    return publish(c, { kind: 'module', name, system, version }, `${name}/${system} ${version}`);
  });

  api.post('/repos/:repo/providers/:type/:version/:os/:arch', needs('write'), (c) => {
    const { type, version, os, arch } = c.req.param();
    return publish(c, { kind: 'provider', type, version, os, arch, protocols: c.req.query('protocols') }, `terraform-provider-${type} ${version} ${os}_${arch}`);
  });

  api.post('/repos/:repo/mirror/:hostname/:namespace/:type/:version/:os/:arch', needs('write'), (c) => {
    const { hostname, namespace, type, version, os, arch } = c.req.param();
    return publish(c, { kind: 'mirror', hostname, namespace, type, version, os, arch }, `${hostname}/${namespace}/${type} ${version} ${os}_${arch}`);
  });

  api.delete('/repos/:repo/modules/:name/:system/:version', needs('write'), async (c) => {
    const { repo, name, system, version } = c.req.param();
    const snapshot = await service.remove(repo, { distribution: 'modules', component: `${name}/${system}`, package: `${name}/${system}`, version, architecture: 'module' }, c.get('actor'));
    return c.json({ snapshot: snapshotInfo(snapshot) });
  });
}
