// The Worker's periodic syncs (the second cron trigger in wrangler.toml): every repository that
// has a source is synced in turn, each as `POST /api/v1/repos/<repo>/sync` in the repository's
// Durable Object, where its publishes queue, so each has a CPU budget of its own. A failure is
// logged and the next repository still syncs.
import type { Hono } from 'hono';
import { publisherFor } from './routing.js';
import type { Env } from './env.js';
import type { SyncReport } from '../../sources/index.js';
import { syncLogFields } from '../../sources/sync-log.js';

/** The cron that syncs, unless PACKYARD_SYNC_CRON names another (the same as in wrangler.toml). */
export const SYNC_CRON = '*/10 * * * *';

export function isSyncCron(cron: string, env: Env): boolean {
  return cron === (env.PACKYARD_SYNC_CRON || SYNC_CRON);
}

export async function syncAll(app: Hono, env: Env, log: (entry: Record<string, unknown>) => void = (entry) => console.log(JSON.stringify(entry))): Promise<void> {
  if (!env.PACKYARD_ADMIN_TOKEN) return log({ level: 'warn', msg: 'sync skipped: PACKYARD_ADMIN_TOKEN is not set' });
  const headers = { authorization: `Bearer ${env.PACKYARD_ADMIN_TOKEN}` };
  // As the admin: an anonymous listing shows only the public repositories.
  const { repos } = (await (await app.request('/api/v1/repos', { headers })).json()) as { repos: { name: string; source?: unknown }[] };
  for (const { name } of repos.filter((r) => r.source)) {
    const request = new Request(`https://packyard.internal/api/v1/repos/${encodeURIComponent(name)}/sync`, { method: 'POST', headers });
    try {
      const res = await (publisherFor(request, env) ?? app).fetch(request);
      const body = (await res.json()) as { report?: SyncReport; error?: { code: string; message: string } };
      if (res.ok && body.report) log({ level: 'info', msg: 'sync', repo: name, status: res.status, ...syncLogFields(body.report) });
      else log({ level: res.status === 503 ? 'warn' : 'error', msg: 'sync failed', repo: name, status: res.status, code: body.error?.code, error: body.error?.message });
    } catch (err) {
      log({ level: 'error', msg: 'sync failed', repo: name, error: (err as Error).message });
    }
  }
}
