import type { SyncReport } from './github/sync.js';

/** A sync report as the fields of one log line, in numbers (the API's report has the details). */
export function syncLogFields(r: SyncReport): Record<string, unknown> {
  return {
    repository: r.repository,
    snapshot: r.snapshot,
    added: r.added.length,
    changed: r.changed.length,
    removed: r.removed.length,
    unchanged: r.unchanged,
    skipped: r.skipped.length,
    ...(r.rateLimit ? { rateLimitRemaining: r.rateLimit.remaining } : {}),
  };
}
