import { PackyardError } from '../util/errors.js';
import { streamBytes } from '../util/bytes.js';
import type { Storage } from '../storage/types.js';
import { checkGrace, type GcTiming } from './gc-protocol.js';
import { isBookkeeping, layout } from './layout.js';
import { DEFAULT_RETENTION, retainedSnapshots, snapshotReferences, type Retention } from './references.js';
import type { RepoStore } from './store.js';
import { Uploads } from './uploads.js';

export interface GcReport {
  repo: string;
  deleted: { objects: number; bytes: number };
  /** Resumable uploads left unfinished for longer than the grace period, ended. */
  abandonedUploads: number;
  /**
   * Multipart writes a crashed writer left in the backend (S3) for longer than the grace period,
   * named by no upload session, aborted.
   */
  abortedWrites: number;
  kept: number;
  dryRun: boolean;
}

export interface GcOptions {
  retention?: Retention;
  dryRun?: boolean;
  /** The time gc runs at, for the ages it compares (tests move it forward). */
  now?: number;
}

/**
 * Deletes what no retained snapshot references, by the protocol in gc-protocol.ts (G1-G3): only
 * objects older than the grace period at gc's start, re-read just before each delete. Snapshot
 * documents are kept as the repository's history. One gc runs per repository at a time.
 */
export async function gc(store: RepoStore, repo: string, options: GcOptions = {}): Promise<GcReport> {
  const retention = options.retention ?? DEFAULT_RETENTION;
  const timing = store.gcTiming;
  // A dry run deletes nothing: it may preview any retention.
  if (!options.dryRun) checkGrace(retention.graceMs, timing);
  const lease = options.dryRun ? null : await GcLease.acquire(store.storage, repo, timing);
  try {
    const started = options.now ?? Date.now(); // G1: before the head is read
    const referenced = new Set<string>();
    for (const snapshot of await retainedSnapshots(store, repo, retention, started)) for (const key of (await snapshotReferences(store, snapshot)).keys()) referenced.add(key);

    await lease?.keep();
    const abandonedUploads = options.dryRun ? 0 : await new Uploads(store.storage).abortAbandoned(repo, started - retention.graceMs);
    await lease?.keep();
    const abortedWrites = options.dryRun ? 0 : await abortIncompleteWrites(store.storage, repo, new Date(started - retention.graceMs));
    await lease?.keep();
    const report: GcReport = { repo, deleted: { objects: 0, bytes: 0 }, abandonedUploads, abortedWrites, kept: referenced.size, dryRun: !!options.dryRun };
    const before = started - retention.graceMs;
    for await (const listed of store.storage.list(layout.repoPrefix(repo), { leftovers: true })) {
      if (referenced.has(listed.key) || isBookkeeping(repo, listed.key) || listed.lastModified.getTime() >= before) continue;
      if (lease) {
        await lease.keep();
        // G3: the listing may be old; decide on a fresh read, and delete only right after it.
        const asked = performance.now();
        const info = await store.storage.head(listed.key);
        if (!info || info.lastModified.getTime() >= before || performance.now() - asked > timing.settleMs / 2) continue;
        await store.storage.delete(listed.key);
      }
      report.deleted.objects++;
      report.deleted.bytes += listed.size;
    }
    return report;
  } finally {
    await lease?.release();
  }
}

/**
 * Aborts the backend's multipart writes under the repository started before `before` that no
 * resumable upload session names (those end with their session). Listed before the sessions are
 * read: a session's record is written right after its upload starts, long within the grace period.
 */
async function abortIncompleteWrites(storage: Storage, repo: string, before: Date): Promise<number> {
  if (!storage.incompleteWrites) return 0;
  const found = [];
  for await (const write of storage.incompleteWrites(layout.repoPrefix(repo), before)) found.push(write);
  if (!found.length) return 0;
  const named = await new Uploads(storage).storageUploadIds(repo);
  const stale = found.filter((w) => !named.has(w.uploadId));
  for (const w of stale) await storage.abortMultipart(w.key, w.uploadId);
  return stale.length;
}

/**
 * One gc per repository at a time (the protocol relies on it: a publish that finds an object gone
 * and writes it again must not meet a second gc's late delete). A lease object taken with a
 * conditional write, renewed while gc runs; a gc that crashed leaves a lease that expires.
 */
class GcLease {
  private constructor(
    private readonly storage: Storage,
    private readonly repo: string,
    private etag: string,
    private expires: number,
    private readonly ttlMs: number,
  ) {}

  static async acquire(storage: Storage, repo: string, timing: GcTiming): Promise<GcLease> {
    const ttlMs = Math.max(timing.minGraceMs, 60_000);
    const key = layout.gcLease(repo);
    const expires = Date.now() + ttlMs;
    const body = JSON.stringify({ expires: new Date(expires).toISOString() });
    let written = await storage.put(key, body, { ifNoneMatch: '*' });
    if (!written) {
      const current = await storage.get(key);
      const held = current ? (JSON.parse(new TextDecoder().decode(await streamBytes(current.body))) as { expires: string }) : null;
      if (held && Date.parse(held.expires) > Date.now()) {
        throw new PackyardError(409, 'gc-running', `another gc of repository ${repo} is running (its lease ends ${held.expires}); try again later`);
      }
      written = await storage.put(key, body, current ? { ifMatch: current.etag } : { ifNoneMatch: '*' });
      if (!written) throw new PackyardError(409, 'gc-running', `another gc of repository ${repo} has just started; try again later`);
    }
    return new GcLease(storage, repo, written.etag, expires, ttlMs);
  }

  /** Renews the lease when half of it is gone; a lease lost to another gc stops this one. */
  async keep(): Promise<void> {
    const now = Date.now();
    if (now < this.expires - this.ttlMs / 2) return;
    const expires = now + this.ttlMs;
    const renewed = now < this.expires && (await this.storage.put(layout.gcLease(this.repo), JSON.stringify({ expires: new Date(expires).toISOString() }), { ifMatch: this.etag }));
    if (!renewed) throw new PackyardError(409, 'gc-lease-lost', `gc of repository ${this.repo} stopped: its lease ran out`);
    this.etag = renewed.etag;
    this.expires = expires;
  }

  async release(): Promise<void> {
    // Expired, it may be another gc's by now: left to expire.
    if (Date.now() >= this.expires) return;
    const current = await this.storage.head(layout.gcLease(this.repo));
    if (current?.etag === this.etag) await this.storage.delete(layout.gcLease(this.repo));
  }
}
