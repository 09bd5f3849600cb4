import type { Hono } from 'hono';
import type { ApiContext, Env } from './middleware.js';
import { jsonBody } from './request.js';

/** API tokens: the server admin's to create, list and revoke. */
export function tokenRoutes(api: Hono<Env>, { access, needs }: ApiContext): void {
  api.post('/tokens', needs('server-admin'), async (c) => {
    const { token, info } = await access.tokens.create(await jsonBody(c), c.get('actor'), new Date());
    return c.json({ ...info, token }, 201);
  });

  api.get('/tokens', needs('server-admin'), async (c) => c.json({ tokens: await access.tokens.list() }));

  api.delete('/tokens/:id', needs('server-admin'), async (c) => {
    await access.tokens.revoke(c.req.param('id'));
    return c.body(null, 204);
  });
}
