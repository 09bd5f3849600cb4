// A binary-<arch> `Packages` file and its `Packages.gz`, built from parts: one per list shard.
//
// `Packages` is its shards' stanzas in shard order (each shard's own and `Architecture: all`
// records merged and sorted), shards separated by a blank line. Each shard's part (its text, with
// the separating newline in front unless it comes first) is kept with its gzip member, named by
// the stored keys of the shard and of the `all` shard it merges: shards are immutable once
// stored, so the key names the text. `Packages.gz` is the parts' members one after another, one
// valid gzip file (RFC 1952; zlib's gzread, which apt uses, reads every member), so a publish that
// changes one shard renders and compresses that shard alone.
//
// The parts are cached in this process and, for a fresh process (the CLI, a restarted server, a
// new Worker isolate), found again in the stored `Packages.gz`: the member table (kept in the
// snapshot's `rendered`) says where each part's member lies, and how long its text is. Only the
// `.gz` is stored (render.ts), so a part's text is its member decompressed.
import type { PublishContext } from '../../core/publish-context.js';
import type { FileEntry } from '../../core/snapshot.js';
import { concatBytes } from '../../util/bytes.js';
import { readRange } from '../../storage/types.js';
import { decompress } from '../../util/codecs/decompress.js';
import { ALL_HASHES, digestBytes, type Digests, type MultiHasher } from '../../util/hash.js';
import { Lru } from '../../util/lru.js';
import { own as ownOf } from '../../util/own.js';
import type { DebRecord } from './record.js';
import { renderPackages } from './packages-index.js';

/** One shard's part of a `Packages` file. */
export interface Part {
  /** `<own key>|<all key>`, with a `+` in front when the text starts with the separating newline. */
  id: string;
  text: Uint8Array;
  gz: Uint8Array;
}

/**
 * Where each part lies in the stored files: [id, text offset, text length, gz offset, gz length].
 * `packages` and `gz` are the SHA-256 of the files it describes, so a table is used only with them.
 * A part read back is taken as what rendering its shards gives: a change to the stanzas' text
 * must change `v`, so that files published before it are rendered again.
 */
export interface MemberTable {
  v: 1;
  packages: string;
  gz: string;
  members: [id: string, textOffset: number, textLength: number, gzOffset: number, gzLength: number][];
}

/** The table's JSON as kept in `rendered`, or null for anything else (older builds keep other strings there). */
export function parseMemberTable(value: string | undefined): MemberTable | null {
  if (value === undefined) return null;
  let t: unknown;
  try {
    t = JSON.parse(value);
  } catch {
    return null;
  }
  if (typeof t !== 'object' || t === null) return null;
  const { v, packages, gz, members } = t as Partial<MemberTable>;
  if (v !== 1 || typeof packages !== 'string' || typeof gz !== 'string' || !Array.isArray(members)) return null;
  let text = 0;
  let zipped = 0;
  for (const m of members) {
    if (!Array.isArray(m) || m.length !== 5 || typeof m[0] !== 'string') return null;
    const [, textOffset, textLength, gzOffset, gzLength] = m;
    if (![textOffset, textLength, gzOffset, gzLength].every((n) => Number.isSafeInteger(n) && n >= 0)) return null;
    // The parts tile both files, in order.
    if (textOffset !== text || gzOffset !== zipped || gzLength === 0) return null;
    text += textLength;
    zipped += gzLength;
  }
  return t as MemberTable;
}

/**
 * Parts recently built or read, by id. A 10,000-package `Packages` (8.4 MB, 1.9 MB gzipped) takes
 * about 10 MB; least recently used go first beyond PART_CACHE_BYTES. The count bounds only a
 * repository of many tiny shards.
 */
const PART_CACHE_BYTES = 32 * 1024 * 1024;
const PART_CACHE_ENTRIES = 4096;
const partCache = new Lru<string, Part>(PART_CACHE_ENTRIES, (p) => p.text.length + p.gz.length + p.id.length, PART_CACHE_BYTES);

/** Forgets every cached part (tests: as a fresh process would start). */
export function clearPartCache(): void {
  partCache.clear();
  trails.clear();
}

/** The `Packages.gz` a publish made before, with its table: where parts not in the cache may be read back from. */
export interface PreviousPackages {
  table: MemberTable | null;
  gz: FileEntry | undefined;
}

export interface PackagesFile {
  /** The length of `Packages`, which is never held whole: its digests are taken part by part. */
  size: number;
  gz: Uint8Array;
  parts: Part[];
  digests: { packages: Digests; gz: Digests };
}

const partId = (lead: boolean, ownKey: string | undefined, allKey: string | undefined) => `${lead ? '+' : ''}${ownKey ?? ''}|${allKey ?? ''}`;

/**
 * The parts of the previous `Packages.gz` named by `wanted`, read back with one range read per run
 * of consecutive members and decompressed member by member. Any doubt (the table not for this
 * file, a short read, a member that is no gzip member or not of the table's length) gives nothing
 * for that run: it is rendered again.
 */
async function previousParts(ctx: PublishContext, previous: PreviousPackages | undefined, wanted: Set<string>): Promise<Map<string, Part>> {
  const found = new Map<string, Part>();
  const table = previous?.table;
  if (!table || !previous.gz || wanted.size === 0) return found;
  if (previous.gz.sha256 !== table.gz) return found;
  const runs: MemberTable['members'][] = [];
  let run: MemberTable['members'] = [];
  for (const m of table.members) {
    if (wanted.has(m[0])) run.push(m);
    else if (run.length) runs.push(run), (run = []);
  }
  if (run.length) runs.push(run);
  const { gz } = previous;
  await Promise.all(
    runs.map(async (members) => {
      const first = members[0]!;
      const last = members[members.length - 1]!;
      try {
        const zipped = await readRange(ctx.store.storage, gz.key, first[3], last[3] + last[4] - first[3]);
        if (!zipped) return;
        for (const [, , , gzOffset] of members) if (zipped[gzOffset - first[3]] !== 0x1f || zipped[gzOffset - first[3] + 1] !== 0x8b) return;
        const read: Part[] = [];
        for (const [id, , textLength, gzOffset, gzLength] of members) {
          // A copy: a cached part must not keep the whole run alive.
          const member = zipped.slice(gzOffset - first[3], gzOffset - first[3] + gzLength);
          const text = await decompress(member, 'gz', textLength, ctx.gunzip);
          if (text.length !== textLength) return;
          read.push({ id, text, gz: member });
        }
        for (const part of read) found.set(part.id, part);
      } catch {
        // Rendered again.
      }
    }),
  );
  return found;
}

/**
 * Where the hashing of recently built files stopped after each part: `states[k]` is a hasher
 * (never updated itself, only copied) that has taken parts 0…k of `ids`. A file whose first parts
 * are those is hashed from there on; only hosts whose hashers copy (Node's) keep these.
 */
interface HashTrail {
  ids: string[];
  states: MultiHasher[];
}
const trails = new Lru<string, HashTrail>(256);

/** All four digests of the parts, one after another, hashed from the longest start `trail` already took. */
async function digestParts(ctx: PublishContext, trail: string | undefined, ids: readonly string[], chunks: readonly Uint8Array[]): Promise<Digests> {
  let hasher = ctx.createHasher(ALL_HASHES);
  if (trail === undefined || !hasher.copy) {
    for (const chunk of chunks) await hasher.update(chunk);
    return hasher.digest();
  }
  const before = trails.get(trail);
  let start = 0;
  if (before) while (start < ids.length && start < before.ids.length && before.ids[start] === ids[start]) start++;
  const states = before ? before.states.slice(0, start) : [];
  if (start > 0) hasher = states[start - 1]!.copy!();
  for (let i = start; i < chunks.length; i++) {
    await hasher.update(chunks[i]!);
    states.push(hasher.copy!());
  }
  trails.set(trail, { ids: [...ids], states });
  return hasher.digest();
}

/**
 * The `Packages` text and `Packages.gz` of one architecture from its shards (`own`) and the
 * `Architecture: all` shards (`all`), by shard name → stored key, with their digests. Parts come
 * from the cache, then from the previous files, and are rendered and compressed only when
 * neither has them. `trail` names the file (repository and directory) for resuming its hashing.
 */
export async function buildPackagesFile(ctx: PublishContext, own: Record<string, string>, all: Record<string, string>, previous?: PreviousPackages, trail?: string): Promise<PackagesFile> {
  const shards = [...new Set([...Object.keys(own), ...Object.keys(all)])].sort().map((shard) => [ownOf(own, shard), ownOf(all, shard)] as const);
  // Every shard has records (an emptied shard leaves the list), so each but the first starts with a newline.
  const ids = shards.map(([o, a], i) => partId(i > 0, o, a));
  const hits = ids.map((id) => partCache.get(id));
  const fromPrevious = await previousParts(ctx, previous, new Set(ids.filter((_, i) => !hits[i])));

  const encoder = new TextEncoder();
  const parts: { id: string; text: Uint8Array; gz: Uint8Array | Promise<Uint8Array> }[] = [];
  for (const [i, [ownKey, allKey]] of shards.entries()) {
    const id = ids[i]!;
    const cached = hits[i];
    if (cached) {
      parts.push(cached);
      continue;
    }
    const read = fromPrevious.get(id);
    if (read) {
      partCache.set(id, read);
      parts.push(read);
      continue;
    }
    const ownRecords = ownKey ? await ctx.store.meta<DebRecord[]>(ownKey) : [];
    const allRecords = allKey ? await ctx.store.meta<DebRecord[]>(allKey) : [];
    const stanzas = renderPackages(ownRecords, allRecords);
    if (!stanzas) continue;
    const text = encoder.encode(parts.length > 0 ? `\n${stanzas}` : stanzas);
    // Started at once: compression runs off the main thread on hosts that can, while this one
    // renders the next shard and hashes the text.
    parts.push({ id, text, gz: ctx.gzip(text) });
  }
  if (parts.length === 0) {
    const gz = await ctx.gzip(new Uint8Array(0));
    const [pd, gd] = await Promise.all([digestBytes(ctx.createHasher, new Uint8Array(0), ALL_HASHES), digestBytes(ctx.createHasher, gz, ALL_HASHES)]);
    return { size: 0, gz, parts: [], digests: { packages: pd, gz: gd } };
  }
  const partIds = parts.map((p) => p.id);
  const packagesDigests = await digestParts(ctx, trail && `text\u0000${trail}`, partIds, parts.map((p) => p.text));
  const done = await Promise.all(
    parts.map(async (p): Promise<Part> => {
      if (!(p.gz instanceof Promise)) return p as Part;
      const part = { id: p.id, text: p.text, gz: await p.gz };
      partCache.set(part.id, part);
      return part;
    }),
  );
  const gzDigests = await digestParts(ctx, trail && `gz\u0000${trail}`, partIds, done.map((p) => p.gz));
  return { size: done.reduce((n, p) => n + p.text.length, 0), gz: concatBytes(done.map((p) => p.gz)), parts: done, digests: { packages: packagesDigests, gz: gzDigests } };
}

/** The member table of files built from `parts`, whose SHA-256 digests are `packages` and `gz`. */
export function memberTable(parts: readonly Part[], packages: string, gz: string): MemberTable {
  let text = 0;
  let zipped = 0;
  const members: MemberTable['members'] = parts.map((p) => {
    const m: MemberTable['members'][number] = [p.id, text, p.text.length, zipped, p.gz.length];
    text += p.text.length;
    zipped += p.gz.length;
    return m;
  });
  return { v: 1, packages, gz, members };
}
