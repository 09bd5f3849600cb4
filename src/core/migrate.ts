import { PackyardError } from '../util/errors.js';
import { forEachConcurrent } from '../util/concurrency.js';
import { hashThrough, type HasherFactory } from '../util/hash.js';
import { streamBytes, streamOf } from '../util/bytes.js';
import { readJson, type Storage } from '../storage/types.js';
import { layout } from './layout.js';

/** Written into the target first and removed last: a target holding it is a migration to resume. */
export const MIGRATION_MARKER = 'system/migration.json';
const MARKER_SCHEMA = 1;
const CONCURRENCY = 8;

interface Marker {
  schema: number;
  from: string;
  startedAt: string;
}

export interface MigrateOptions {
  /** How the source is named to the user; a marker naming the same source is resumed. */
  from: string;
  /** Write into a target that holds objects of something else. */
  force?: boolean;
  createHasher: HasherFactory;
  /** Total bytes to copy once known, then the bytes of each object as it is done. */
  onStart?(totalBytes: number): void;
  onProgress?(bytes: number): void;
}

export interface MigrateReport {
  /** Objects written into the target. */
  objects: number;
  bytes: number;
  /** Objects the target held already, with the same size and SHA-256 (a resumed migration). */
  skipped: number;
  /** Resumable uploads in progress in the source: their parts live in the source backend only. */
  unfinishedUploads: number;
  seconds: number;
}

/**
 * The objects that change in place (compare-and-swap pointers, credentials, keys). They are read
 * before anything is copied and written after everything else, so the target never has a head
 * naming an object it lacks.
 */
function isMutable(key: string): boolean {
  return key.startsWith('system/') || /^repos\/[^/]+\/head\.json$/.test(key);
}

/** Not moved: a lease is one running gc's, and an upload's parts are held by the source backend. */
function isLocal(key: string): boolean {
  return key === MIGRATION_MARKER || /^repos\/[^/]+\/gc-lease\.json$/.test(key) || /^repos\/[^/]+\/uploads\//.test(key);
}

/**
 * Copies a whole store (every repository and the system documents) from one Storage into
 * another, each object verified by the SHA-256 and size read back from the target. Resumable: a
 * rerun skips what the target already holds intact.
 */
export async function migrate(source: Storage, target: Storage, options: MigrateOptions): Promise<MigrateReport> {
  const started = performance.now();
  await claimTarget(target, options);

  // The mutable objects first, as they are now (small documents, kept in memory).
  const mutable: { key: string; bytes: Uint8Array }[] = [];
  const immutable: { key: string; size: number }[] = [];
  let unfinishedUploads = 0;
  const keys: string[] = [];
  for await (const repo of source.listFolders(layout.reposPrefix)) keys.push(layout.head(repo));
  for await (const obj of source.list('system/')) if (!isLocal(obj.key)) keys.push(obj.key);
  for (const key of keys) {
    const read = await source.get(key);
    if (read) mutable.push({ key, bytes: await streamBytes(read.body) });
  }
  // Then everything else: what the heads just read name was written before them, so it is listed.
  for await (const obj of source.list(layout.reposPrefix)) {
    if (/^repos\/[^/]+\/uploads\/[0-9a-f]{32}\.json$/.test(obj.key)) unfinishedUploads++;
    if (!isMutable(obj.key) && !isLocal(obj.key)) immutable.push({ key: obj.key, size: obj.size });
  }
  options.onStart?.(immutable.reduce((n, o) => n + o.size, 0) + mutable.reduce((n, o) => n + o.bytes.length, 0));

  const report: MigrateReport = { objects: 0, bytes: 0, skipped: 0, unfinishedUploads, seconds: 0 };
  const copy = async (key: string, body: () => Promise<ReadableStream<Uint8Array> | null>) => {
    const outcome = await copyOne(target, key, body, options.createHasher);
    if (outcome.skipped) report.skipped++;
    else if (outcome.size >= 0) {
      report.objects++;
      report.bytes += outcome.size;
    }
    options.onProgress?.(Math.max(outcome.size, 0));
  };
  await forEachConcurrent(immutable, CONCURRENCY, ({ key }) => copy(key, async () => (await source.get(key))?.body ?? null));
  await forEachConcurrent(mutable, CONCURRENCY, ({ key, bytes }) => copy(key, async () => streamOf(bytes)));

  await target.delete(MIGRATION_MARKER);
  report.seconds = Math.round((performance.now() - started) / 10) / 100;
  return report;
}

/** Refuses a target with other objects in it, unless forced or it holds this migration's marker. */
async function claimTarget(target: Storage, options: MigrateOptions): Promise<void> {
  const marker = await readJson<Marker>(target, MIGRATION_MARKER).catch(() => null);
  if (marker?.from === options.from) return;
  if (!options.force) {
    for await (const obj of target.list('')) {
      const what = marker ? `an unfinished migration from ${marker.from}` : `objects (${obj.key}, …)`;
      throw new PackyardError(409, 'target-not-empty', `the target holds ${what}: give --force to write into it anyway`);
    }
  }
  const body: Marker = { schema: MARKER_SCHEMA, from: options.from, startedAt: new Date().toISOString() };
  await target.put(MIGRATION_MARKER, JSON.stringify(body));
}

/**
 * One object: skipped when the target holds the same bytes, else streamed across while hashed
 * and then read back and hashed again. Size -1: the source lost the object since it was listed
 * (gc deleted garbage), so there is nothing to copy.
 */
async function copyOne(target: Storage, key: string, body: () => Promise<ReadableStream<Uint8Array> | null>, createHasher: HasherFactory): Promise<{ size: number; skipped: boolean }> {
  const existing = await target.head(key);
  if (existing) {
    const [there, here] = await Promise.all([digestOf(target, key, createHasher), digestStream(await body(), createHasher)]);
    if (!here) return { size: -1, skipped: false };
    if (there && there.size === here.size && there.sha256 === here.sha256) return { size: here.size, skipped: true };
  }
  const stream = await body();
  if (!stream) return { size: -1, skipped: false };
  const hasher = createHasher(['sha256']);
  let size = 0;
  const hashed = stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      async transform(chunk, controller) {
        await hasher.update(chunk);
        size += chunk.length;
        controller.enqueue(chunk);
      },
    }),
  );
  await target.put(key, hashed);
  const sent = (await hasher.digest()).sha256;
  const back = await digestOf(target, key, createHasher);
  if (!back || back.size !== size || back.sha256 !== sent) {
    throw new PackyardError(500, 'migration-mismatch', `${key}: the target holds ${back ? `${back.size} bytes, SHA-256 ${back.sha256}` : 'nothing'} after ${size} bytes, SHA-256 ${sent} were written`);
  }
  return { size, skipped: false };
}

async function digestOf(storage: Storage, key: string, createHasher: HasherFactory) {
  return digestStream((await storage.get(key))?.body ?? null, createHasher);
}

function digestStream(stream: ReadableStream<Uint8Array> | null, createHasher: HasherFactory): Promise<{ size: number; sha256: string }> | null {
  return stream && hashThrough(createHasher, stream);
}
