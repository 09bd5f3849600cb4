import { layout } from './layout.js';
import { DEFAULT_RETENTION, retainedSnapshots, snapshotReferences, type Retention } from './references.js';
import type { RepoStore } from './store.js';
import { Uploads } from './uploads.js';

export interface GcReport {
  repo: string;
  deleted: { objects: number; bytes: number };
  /** Resumable uploads left unfinished for longer than the grace period, ended. */
  abandonedUploads: number;
  kept: number;
  dryRun: boolean;
}

/**
 * Deletes what no retained snapshot references. Objects younger than the grace period are
 * left alone too: they may belong to a publish still in flight. Snapshot documents are kept
 * as the repository's history.
 */
export async function gc(store: RepoStore, repo: string, options: { retention?: Retention; dryRun?: boolean; now?: number } = {}): Promise<GcReport> {
  const retention = options.retention ?? DEFAULT_RETENTION;
  const now = options.now ?? Date.now();
  const referenced = new Set<string>();
  for (const snapshot of await retainedSnapshots(store, repo, retention, now)) for (const key of (await snapshotReferences(store, snapshot)).keys()) referenced.add(key);

  const abandonedUploads = options.dryRun ? 0 : await new Uploads(store.storage).abortAbandoned(repo, now - retention.graceMs);
  const report: GcReport = { repo, deleted: { objects: 0, bytes: 0 }, abandonedUploads, kept: referenced.size, dryRun: !!options.dryRun };
  for await (const info of store.storage.list(layout.repoPrefix(repo))) {
    if (referenced.has(info.key) || info.key === layout.head(repo) || info.key.startsWith(layout.snapshotsPrefix(repo))) continue;
    if (now - info.lastModified.getTime() < retention.graceMs) continue;
    if (!options.dryRun) await store.storage.delete(info.key);
    report.deleted.objects++;
    report.deleted.bytes += info.size;
  }
  return report;
}
