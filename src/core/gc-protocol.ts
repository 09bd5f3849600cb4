import { PackyardError } from '../util/errors.js';
import type { ObjectInfo, Storage } from '../storage/types.js';

/**
 * How `gc` and publishes share a repository without a lock: the one protocol that keeps gc from
 * deleting an object that a head swapped in by a concurrent publish references.
 *
 * gc (see gc.ts):
 *  G1. takes its start time `t0` before it reads the head;
 *  G2. marks everything the retained snapshots reference;
 *  G3. deletes an unmarked object only if its modification time is before `t0 - grace`, where
 *      `grace >= minGraceMs`, as read by a `head` sent at most `settleMs / 2` before the delete
 *      is sent (a listing may be minutes old); anything younger, or read too late, is kept.
 *
 * A publish (see PublishGuard): before its head swap, every object the new snapshot references
 * and its base does not (the publish's "new" objects: written by it, uploaded for it, or found
 * already stored and re-used, like an index identical to an old one) must be
 *  P1. modified no longer than `refreshMs` (half of minGraceMs) ago: older ones are touched (their
 *      modification time set to now; content unchanged);
 *  P2. and, if it could have been in a gc's view with an older time (it was touched, rewritten or
 *      found existing, not written under a new name), seen again by a `head` at least `settleMs`
 *      after its last modification (by this host's clock: when the touch returned, or when it was
 *      found): a delete decided on the older time has landed by then, and the object is rewritten
 *      (or the publish fails) if it did.
 * The swap follows at once (within `minGraceMs - refreshMs` of P1, which nothing in between can
 * take).
 * And G0: one gc runs per repository at a time (a lease), so an object a publish finds missing
 * and writes anew cannot meet a late delete of a second gc (the one gc's delete of it has landed,
 * or the publish would not have found it missing).
 *
 * Why it holds: a gc that deletes object O of a publish P's new objects must have read the head
 * before P swapped (else it marked O), so t0 < swap. By G3, O was modified before t0 - grace <
 * swap - minGraceMs. By P1, O was modified after swap - minGraceMs, unless its time was older
 * in the gc's view (P2): that delete was decided on a head sent before O's modification and
 * landed within settleMs of it, so P2's head saw O missing. Objects the base snapshot references
 * are either marked by the gc (the base is the head it read) or were new objects of a publish
 * that swapped after the gc's read, protected by the same argument.
 *
 * The margins also absorb clock differences between hosts and storage (and the whole seconds of
 * an HTTP Last-Modified) as long as they stay well below `refreshMs`.
 */
export interface GcTiming {
  /** The shortest grace period gc accepts, and the longest a publish may rely on an old object. */
  minGraceMs: number;
  /** The longest gc lets pass between reading an object's time and deleting it. */
  settleMs: number;
}

export const DEFAULT_GC_TIMING: GcTiming = { minGraceMs: 10 * 60_000, settleMs: 2_000 };

/** Thrown when gc took an object this attempt wrote: the publish builds again. */
export class CollectedDuringPublish extends Error {}

interface Tracked {
  /** Its modification time, or a lower bound of it. */
  modified: number;
  /** Stored before the publish began (an upload): cannot be rebuilt if gc took it. */
  input: boolean;
  /** P2 holds: no delete decided on an older time can still land. */
  settled: boolean;
  /**
   * When, by this host's clock, the object had been modified last (at the latest): P2 waits
   * from here, not from a storage time that may be coarse (whole seconds) or skewed.
   */
  seenAt: number;
}

/** The new objects of one publish attempt, and the checks P1 and P2 before its head swap. */
export class PublishGuard {
  private readonly objects = new Map<string, Tracked>();

  constructor(
    private readonly storage: Storage,
    private readonly timing: GcTiming,
    private readonly now: () => number,
  ) {
    // P2's wait must be short beside P1's margin (see secure).
    if (timing.settleMs * 4 > timing.minGraceMs) throw new Error('gc timing: settleMs must be at most a quarter of minGraceMs');
  }

  private get refreshMs(): number {
    return this.timing.minGraceMs / 2;
  }

  /** An object this attempt wrote under a name never used before (a new meta document). */
  wrote(info: ObjectInfo): void {
    this.track(info.key, { modified: info.lastModified.getTime(), input: false, settled: true, seenAt: this.now() });
  }

  /** An object found stored under its name (content-addressed) at `observedAt`, or written there by this attempt. */
  reused(info: ObjectInfo, observedAt: number): void {
    const modified = info.lastModified.getTime();
    this.track(info.key, { modified, input: false, settled: observedAt - modified >= this.timing.settleMs, seenAt: observedAt });
  }

  /** Objects stored for the publish before it began (its uploads, under new names), none modified before `since`. */
  inputs(keys: Iterable<string>, since: number): void {
    for (const key of keys) this.track(key, { modified: since, input: true, settled: true, seenAt: since });
  }

  has(key: string): boolean {
    return this.objects.has(key);
  }

  /** Too old to rely on without touching it (P1): a publish touches such an object (or writes it, if gone). */
  isStale(info: ObjectInfo): boolean {
    return info.lastModified.getTime() < this.now() - this.refreshMs;
  }

  private track(key: string, entry: Tracked): void {
    const known = this.objects.get(key);
    if (!known) return void this.objects.set(key, entry);
    known.modified = Math.min(known.modified, entry.modified);
    known.settled &&= entry.settled;
    known.seenAt = Math.max(known.seenAt, entry.seenAt);
  }

  /**
   * P1 and P2, just before the head swap. Throws CollectedDuringPublish when gc took an object
   * the attempt wrote (build again), and a 503 when it took an upload, which cannot be rebuilt.
   */
  async secure(): Promise<void> {
    for (let round = 0; round < 8; round++) {
      // Touch what is past half of refreshMs, so waiting for P2 cannot age anything past P1.
      const touchBefore = this.now() - this.refreshMs / 2;
      for (const [key, entry] of this.objects) {
        if (entry.modified >= touchBefore) continue;
        // An input's time is a lower bound: its real one may be recent enough.
        const info = entry.input ? await this.storage.head(key) : null;
        if (info && info.lastModified.getTime() >= touchBefore) {
          entry.modified = info.lastModified.getTime();
          continue;
        }
        const touched = await this.storage.touch(key);
        if (!touched) this.collected(key, entry);
        entry.modified = touched.lastModified.getTime();
        entry.settled = false;
        entry.seenAt = this.now();
      }
      const unsettled = [...this.objects].filter(([, e]) => !e.settled);
      if (unsettled.length > 0) {
        const wait = unsettled.reduce((latest, [, e]) => Math.max(latest, e.seenAt), 0) + this.timing.settleMs - this.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        for (const [key, entry] of unsettled) {
          const info = await this.storage.head(key);
          if (!info) this.collected(key, entry);
          // Modified again meanwhile (another publisher touched it): wait for that one too.
          entry.settled = info.lastModified.getTime() <= entry.modified;
          entry.modified = info.lastModified.getTime();
          entry.seenAt = this.now();
        }
      }
      // A batch may hold many thousands of objects: no spread into Math.min.
      const entries = [...this.objects.values()];
      const oldest = entries.reduce((min, e) => Math.min(min, e.modified), Infinity);
      if (entries.every((e) => e.settled) && oldest >= this.now() - this.refreshMs) return;
    }
    throw new PackyardError(503, 'publish-contention', 'the repository is being collected and published at the same time; try again');
  }

  private collected(key: string, entry: Tracked): never {
    if (entry.input) {
      throw new PackyardError(503, 'upload-collected', `an uploaded file (${key}) was collected before it could be published: the upload took longer than the gc grace period; upload it again`);
    }
    throw new CollectedDuringPublish(key);
  }
}

/** A gc grace period in milliseconds, refused when shorter than the protocol allows. */
export function checkGrace(graceMs: number, timing: GcTiming = DEFAULT_GC_TIMING): void {
  if (!Number.isFinite(graceMs) || graceMs < timing.minGraceMs) {
    throw new PackyardError(400, 'grace-too-short', `the grace period must be at least ${formatMs(timing.minGraceMs)}: a publish in flight may rely on objects that long (got ${formatMs(graceMs)})`);
  }
}

function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}
