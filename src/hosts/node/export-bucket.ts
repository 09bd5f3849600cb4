import { readJson, type ObjectInfo, type Storage } from '../../storage/types.js';
import type { PublishStage } from '../../core/format.js';
import { forEachConcurrent } from '../../util/concurrency.js';
import { PackyardError } from '../../util/errors.js';
import { hashThrough } from '../../util/hash.js';
import { createNodeHasher } from './hasher.js';
import type { ExportFile, ExportTarget } from './export.js';

/** The target's record of what an export put there, beside the tree. */
export const MANIFEST = '.packyard-export.json';

/** Each path written: its size and SHA-256; `since`, on a path the tree no longer lists, is when it stopped (deleted after the grace period). */
interface Manifest {
  files: Record<string, { size: number; sha256: string; since?: string }>;
}

export interface BucketReport {
  uploaded: number;
  unchanged: number;
  deleted: number;
  /** Superseded files kept until their grace period ends. */
  kept: number;
}

/** Content before the indexes naming it by hash, those before the files clients fetch by name first. */
const STAGES: PublishStage[] = ['content', 'index', 'root'];
const PARALLEL = 4;

/**
 * Publishes the tree into a bucket (or anything a Storage writes) so that a reader never sees an
 * index naming a file not there yet: only the files whose content changed are uploaded, stage by
 * stage (STAGES); files the tree no longer lists stay for `graceMs` after they stopped being
 * listed (a client holding an older InRelease still finds what it names), then go. Objects no
 * export wrote (not in the manifest) are never deleted.
 */
export function bucketTarget(storage: Storage, options: { graceMs: number; now?: () => Date }): ExportTarget<BucketReport> {
  const now = options.now ?? (() => new Date());
  return async (walk) => {
    const files: ExportFile[] = [];
    for await (const f of walk) files.push(f);
    const before = (await readManifest(storage)).files;
    // What is there, not only what the manifest says: an object removed by hand is uploaded again.
    const present = new Map<string, ObjectInfo>();
    for await (const obj of storage.list('')) present.set(obj.key, obj);

    const changed: ExportFile[] = [];
    for (const f of files) if (!(await holds(storage, f, present.get(f.path)?.size, before[f.path]?.sha256))) changed.push(f);
    for (const stage of STAGES) {
      const writes = changed.filter((f) => f.stage === stage);
      await waitForLaterSecond(writes.map((f) => present.get(f.path)?.lastModified));
      await forEachConcurrent(writes, PARALLEL, async (f) => {
        const previous = present.get(f.path)?.lastModified;
        for (let tries = 1; ; tries++) {
          const written = await storage.put(f.path, await f.open(), { contentType: f.contentType });
          if (!previous || !written || wholeSecond(written.lastModified) > wholeSecond(previous) || tries >= 3) break;
          await sleep(1000); // the bucket's clock is behind ours
        }
      });
    }

    const at = now();
    const after: Manifest = { files: {} };
    for (const f of files) after.files[f.path] = { size: f.size, sha256: f.sha256 };
    const expired: string[] = [];
    for (const [path, entry] of Object.entries(before)) {
      if (after.files[path]) continue;
      const since = entry.since ?? at.toISOString();
      if (at.getTime() - Date.parse(since) >= options.graceMs) expired.push(path);
      else after.files[path] = { size: entry.size, sha256: entry.sha256, since };
    }
    // Deleted before the manifest forgets them: a run cut short here deletes them next time.
    await forEachConcurrent(expired, PARALLEL, (path) => storage.delete(path));
    await storage.put(MANIFEST, JSON.stringify(after, null, 1), { contentType: 'application/json' });
    return { uploaded: changed.length, unchanged: files.length - changed.length, deleted: expired.length, kept: Object.keys(after.files).length - files.length };
  };
}

/**
 * Readers revalidate what they fetch by name (InRelease, repomd.xml) with If-Modified-Since, and
 * HTTP dates have whole seconds: an object rewritten within the second its predecessor was
 * written keeps its Last-Modified, and the bucket answers 304 with the old content gone. So an
 * overwrite waits until the second after the one its predecessor was dated.
 */
async function waitForLaterSecond(previous: (Date | undefined)[]): Promise<void> {
  // A loop, not Math.max(...): a first export may write a hundred thousand pool files in one stage.
  let latest = -1;
  for (const d of previous) if (d) latest = Math.max(latest, wholeSecond(d));
  const wait = (latest + 1) * 1000 - Date.now();
  if (latest >= 0 && wait > 0) await sleep(wait + 20);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function wholeSecond(d: Date): number {
  return Math.floor(d.getTime() / 1000);
}

async function readManifest(storage: Storage): Promise<Manifest> {
  const manifest = await readJson<Manifest>(storage, MANIFEST).catch((err: Error) => (err instanceof SyntaxError ? 'not JSON' : Promise.reject(err)));
  if (manifest === null) return { files: {} };
  if (manifest === 'not JSON' || typeof manifest !== 'object' || typeof manifest.files !== 'object' || manifest.files === null) {
    throw new PackyardError(500, 'bad-export-manifest', `the target's ${MANIFEST} is not an export manifest: remove it, and the next export compares with the objects themselves`);
  }
  return manifest;
}

/** Whether the target already holds `f`: by the manifest's hash when it names the path, else by hashing the object there. */
async function holds(storage: Storage, f: ExportFile, size: number | undefined, recorded: string | undefined): Promise<boolean> {
  if (size !== f.size) return false;
  if (recorded !== undefined) return recorded === f.sha256;
  const obj = await storage.get(f.path);
  return obj !== null && (await hashThrough(createNodeHasher, obj.body)).sha256 === f.sha256;
}
