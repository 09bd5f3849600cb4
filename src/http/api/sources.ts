import type { Hono } from 'hono';
import type { ApiContext, Env } from './middleware.js';
import { boundedBody } from './request.js';

/** GitHub's deliveries are at most 25 MB; a release event is far less. */
export const WEBHOOK_LIMIT = 5 * 1024 * 1024;

/** A repository's source: sync now, and the webhook GitHub calls when a release changes. */
export function sourceRoutes(api: Hono<Env>, { sources, needs }: ApiContext): void {
  api.post('/repos/:repo/sync', needs('write'), async (c) => c.json({ report: await sources.sync(c.req.param('repo')) }));

  // No token: GitHub signs the body with the webhook secret instead (checked before anything is done).
  api.post('/repos/:repo/github-webhook', async (c) => {
    const { status, body } = await sources.githubWebhook(c.req.param('repo'), (name) => c.req.header(name), await boundedBody(c.req.raw, WEBHOOK_LIMIT));
    return c.json(body, status);
  });
}
