// What the Worker's cron triggers (wrangler.toml) run: every 10 minutes, a sync of each repository
// that has a source; daily, gc of every repository, then its heartbeat. Each is a request to the
// app as the admin (PACKYARD_ADMIN_TOKEN). A gc or sync changes a repository, so it runs in the
// repository's Durable Object, where its publishes queue and it has a CPU budget of its own; a
// check is a read, so it runs here, and its route keeps the result for `GET …/check/last`. A
// failure is logged and the next repository still runs.
import type { Hono } from 'hono';
import { publisherFor } from './routing.js';
import type { Env } from './env.js';
import type { SyncReport } from '../../sources/index.js';
import { syncLogFields } from '../../sources/sync-log.js';

type Log = (entry: Record<string, unknown>) => void;

/** The cron that syncs, unless PACKYARD_SYNC_CRON names another (the same as in wrangler.toml). */
export const SYNC_CRON = '*/10 * * * *';

const consoleLog: Log = (entry) => console.log(JSON.stringify(entry));

export async function runCron(cron: string, app: Hono, env: Env, log: Log = consoleLog): Promise<void> {
  const sync = cron === (env.PACKYARD_SYNC_CRON || SYNC_CRON);
  if (!env.PACKYARD_ADMIN_TOKEN) return log({ level: 'warn', msg: `${sync ? 'sync' : 'gc and check'} skipped: PACKYARD_ADMIN_TOKEN is not set` });
  const headers = { authorization: `Bearer ${env.PACKYARD_ADMIN_TOKEN}` };
  // As the admin: an anonymous listing shows only the public repositories.
  const listing = await app.request('/api/v1/repos', { headers });
  if (!listing.ok) return log({ level: 'error', msg: `${sync ? 'sync' : 'gc and check'} skipped: listing the repositories answered ${listing.status}`, error: await listing.text() });
  const { repos } = (await listing.json()) as { repos: { name: string; source?: unknown }[] };
  /** One request per repository, one log line each: what `summary` takes from the answer (`ok: false` logs an error). */
  const each = async (names: string[], msg: string, request: (name: string) => Request, summary: (body: Record<string, unknown>) => Record<string, unknown>) => {
    for (const name of names) {
      try {
        const req = request(name);
        const res = await (req.method === 'GET' ? app : (publisherFor(req, env) ?? app)).fetch(req);
        const body = (await res.json()) as Record<string, unknown> & { error?: { code: string; message: string } };
        if (!res.ok) log({ level: res.status === 503 ? 'warn' : 'error', msg: `${msg} failed`, repo: name, status: res.status, code: body.error?.code, error: body.error?.message });
        else {
          const fields = summary(body);
          log({ level: fields.ok === false ? 'error' : 'info', msg, repo: name, status: res.status, ...fields });
        }
      } catch (err) {
        log({ level: 'error', msg: `${msg} failed`, repo: name, error: (err as Error).message });
      }
    }
  };
  const url = (name: string, what: string) => `https://packyard.internal/api/v1/repos/${encodeURIComponent(name)}/${what}`;
  if (sync) {
    return each(repos.filter((r) => r.source).map((r) => r.name), 'sync', (name) => new Request(url(name, 'sync'), { method: 'POST', headers }), (body) => syncLogFields(body.report as SyncReport));
  }
  const names = repos.map((r) => r.name);
  await each(names, 'gc', (name) => new Request(url(name, 'gc'), { method: 'POST', headers }), (body) => body);
  await each(names, 'check', (name) => new Request(url(name, 'check'), { headers }), (body) => {
    const { ok, snapshot, checked, ms, broken } = body.check as Record<string, unknown>;
    return { ok, snapshot, checked, ms, broken };
  });
}
