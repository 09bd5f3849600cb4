import type { Hono } from 'hono';
import type { ApiContext, Env } from './middleware.js';
import { jsonBody } from './request.js';

/** A repository's OIDC trust policies: its admin's to add, list and remove. */
export function oidcPolicyRoutes(api: Hono<Env>, { service, access, needs }: ApiContext): void {
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
}
