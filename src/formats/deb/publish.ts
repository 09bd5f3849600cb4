import { PackyardError } from '../../util/errors.js';
import type { Gzip } from '../../util/compress.js';
import { digestBytes, type HasherFactory } from '../../util/hash.js';
import { layout } from '../../repository/layout.js';
import type { RepoStore } from '../../repository/store.js';
import { newSnapshotId, poolShard, type Change, type FileEntry, type PoolEntry, type PoolMap, type RepoSettings, type Snapshot } from '../../repository/snapshot.js';
import type { Signer } from '../../signing/signer.js';
import { recordId, type DebRecord } from './record.js';
import { renderPackages, sortRecords } from './packages-index.js';
import { renderComponentRelease, renderRelease } from './release.js';

export interface PublishContext {
  store: RepoStore;
  signer: Signer;
  createHasher: HasherFactory;
  gzip: Gzip;
  now: () => Date;
}

export interface Placement {
  distribution: string;
  component: string;
  record: DebRecord;
}

export interface RemoveSpec {
  distribution: string;
  package: string;
  version: string;
  architecture: string;
  component?: string;
}

export interface Mutation {
  add?: Placement[];
  /** Allow a package whose name, version and architecture exist with other content to replace it. */
  replace?: boolean;
  remove?: RemoveSpec[];
  settings?: RepoSettings;
  actor: string;
}

export interface MutationResult {
  snapshot: Snapshot | null;
  /** Blobs of this upload that the new snapshot does not use (copies of what was there). */
  unusedKeys: string[];
}

const META_FILES = new Set(['InRelease', 'Release', 'Release.gpg']);

/**
 * Builds the snapshot that follows `current` after `mutation`, writing every new object it
 * needs; only the package lists it touches are loaded and only their indexes re-rendered.
 */
export async function buildSnapshot(ctx: PublishContext, repo: string, current: Snapshot, mutation: Mutation): Promise<MutationResult> {
  const lists = new ListSet(ctx.store, current);
  const pool = new PoolSet(ctx.store, current);
  const changes: Change[] = [];
  const unusedKeys: string[] = [];

  for (const { distribution, component, record } of mutation.add ?? []) {
    const list = await lists.get(distribution, component, record.architecture, shardOf(record.package));
    const id = recordId(record);
    const existing = list.get(id);
    const pooled = await pool.get(record.filename);
    if (existing?.sha256 === record.sha256 || (!existing && pooled?.sha256 === record.sha256)) {
      unusedKeys.push(record.key);
      if (existing) continue;
      list.set(id, { ...record, key: pooled!.key });
      await addRef(pool, record);
      changes.push(change('add', distribution, component, record));
      continue;
    }
    if (existing || pooled) {
      if (!mutation.replace) {
        throw new PackyardError(409, 'package-exists', `${record.package} ${record.version} (${record.architecture}) is already in ${repo} with different content; upload with replace=true to replace it`);
      }
      if (pooled && pooled.sha256 !== record.sha256) await replaceEverywhere(lists, pool, record);
      if (existing?.filename === record.filename) {
        changes.push(change('replace', distribution, component, record));
        continue;
      }
      if (existing) await dropRef(pool, existing.filename);
    }
    const entry = await pool.get(record.filename);
    list.set(id, entry ? { ...record, key: entry.key } : record);
    await addRef(pool, record);
    changes.push(change(existing ? 'replace' : 'add', distribution, component, record));
  }

  for (const spec of mutation.remove ?? []) {
    const components = spec.component ? [spec.component] : Object.keys(current.lists[spec.distribution] ?? {});
    let found = false;
    for (const component of components) {
      const list = await lists.get(spec.distribution, component, spec.architecture, shardOf(spec.package));
      const id = recordId(spec);
      const removed = list.get(id);
      if (!removed) continue;
      list.delete(id);
      await dropRef(pool, removed.filename);
      changes.push(change('remove', spec.distribution, component, removed));
      found = true;
    }
    if (!found) throw new PackyardError(404, 'package-not-found', `${spec.package} ${spec.version} (${spec.architecture}) is not in ${repo}/${spec.distribution}`);
  }

  const settings = mutation.settings ?? current.settings;
  if (mutation.settings) changes.push({ action: 'settings' });
  if (changes.length === 0) return { snapshot: null, unusedKeys };

  const nextLists = await lists.save(repo);
  const architectures = [...new Set([...settings.architectures, ...lists.architectures()])].filter((a) => a !== 'all').sort();
  const files = { ...current.files };
  const rendered = { ...current.rendered };
  const date = ctx.now();

  for (const distribution of new Set([...Object.keys(nextLists), ...Object.keys(settings.distributions)])) {
    const distSettings = settings.distributions[distribution] ?? {};
    const components: Record<string, Record<string, Record<string, string>>> = { ...Object.fromEntries((distSettings.components ?? []).map((c) => [c, {}])), ...nextLists[distribution] };
    const settingsTag = JSON.stringify(distSettings) + architectures.join(',');
    let dirty = rendered[`dists/${distribution}`] !== settingsTag;
    for (const [component, byArch] of Object.entries(components)) {
      for (const arch of architectures) {
        const dir = `dists/${distribution}/${component}/binary-${arch}`;
        const inputs = `${JSON.stringify(byArch[arch] ?? {})}|${JSON.stringify(byArch.all ?? {})}|${settingsTag}`;
        if (rendered[dir] === inputs) continue;
        const packages = new TextEncoder().encode(await renderShards(ctx.store, byArch[arch] ?? {}, byArch.all ?? {}));
        // Compressing runs off the main thread on hosts that can: hash and store meanwhile.
        [files[`${dir}/Packages`], files[`${dir}/Packages.gz`]] = await Promise.all([storeIndex(ctx, repo, packages), ctx.gzip(packages).then((gz) => storeIndex(ctx, repo, gz))]);
        files[`${dir}/Release`] = await storeIndex(ctx, repo, new TextEncoder().encode(renderComponentRelease(repo, distribution, distSettings, component, arch)));
        rendered[dir] = inputs;
        dirty = true;
      }
    }
    if (!dirty) continue;
    const prefix = `dists/${distribution}/`;
    const indexFiles: Record<string, FileEntry> = {};
    for (const [path, entry] of Object.entries(files)) {
      const rel = path.slice(prefix.length);
      if (path.startsWith(prefix) && !META_FILES.has(rel) && architectures.some((a) => rel.includes(`/binary-${a}/`))) indexFiles[rel] = entry;
    }
    const release = renderRelease({ repo, distribution, settings: distSettings, architectures, components: Object.keys(components).sort(), files: indexFiles, date });
    const releaseBytes = new TextEncoder().encode(release);
    files[`${prefix}Release`] = await storeIndex(ctx, repo, releaseBytes);
    files[`${prefix}InRelease`] = await storeIndex(ctx, repo, new TextEncoder().encode(await ctx.signer.clearSign(release)));
    files[`${prefix}Release.gpg`] = await storeIndex(ctx, repo, new TextEncoder().encode(await ctx.signer.detachSign(releaseBytes)));
    rendered[`dists/${distribution}`] = settingsTag;
  }

  const seq = current.seq + 1;
  const snapshot: Snapshot = {
    id: newSnapshotId(seq),
    repo,
    type: 'deb',
    seq,
    parent: current.id,
    createdAt: date.toISOString(),
    parentCreatedAt: current.createdAt,
    actor: mutation.actor,
    changes,
    settings,
    files,
    pool: await pool.save(repo),
    lists: nextLists,
    rendered,
  };
  return { snapshot, unusedKeys };
}

/** A replaced pool file changes under every distribution that lists it, so all their lists are updated. */
async function replaceEverywhere(lists: ListSet, pool: PoolSet, record: DebRecord): Promise<void> {
  for (const list of await lists.allFor(record.architecture, shardOf(record.package))) {
    for (const [id, r] of list) if (r.filename === record.filename) list.set(id, { ...record });
  }
  const old = await pool.get(record.filename);
  if (old) pool.set(record.filename, { ...old, key: record.key, size: record.size, sha256: record.sha256 });
}

// Pool entries are replaced, never changed in place: the previous maps are shared with caches.
async function addRef(pool: PoolSet, record: DebRecord): Promise<void> {
  const entry = await pool.get(record.filename);
  pool.set(record.filename, entry ? { ...entry, refs: entry.refs + 1 } : { key: record.key, size: record.size, sha256: record.sha256, refs: 1 });
}

async function dropRef(pool: PoolSet, filename: string): Promise<void> {
  const entry = await pool.get(filename);
  if (!entry) return;
  if (entry.refs <= 1) pool.delete(filename);
  else pool.set(filename, { ...entry, refs: entry.refs - 1 });
}

function change(action: Change['action'], distribution: string, component: string, r: DebRecord): Change {
  return { action, distribution, component, package: r.package, version: r.version, architecture: r.architecture };
}

export function emptySnapshot(repo: string, settings: RepoSettings, actor: string, now: Date): Snapshot {
  return { id: newSnapshotId(0), repo, type: 'deb', seq: 0, parent: null, createdAt: now.toISOString(), parentCreatedAt: null, actor, changes: [{ action: 'create' }], settings, files: {}, pool: {}, lists: {}, rendered: {} };
}

async function storeIndex(ctx: PublishContext, repo: string, data: Uint8Array): Promise<FileEntry> {
  const digests = digestBytes(ctx.createHasher, data);
  const key = layout.byHash(repo, 'SHA256', digests.sha256);
  const storage = ctx.store.storage;
  // Named by content: an object already there is this very content, and writing it again is
  // harmless, so no conditional write (and its lock) is needed.
  await Promise.all(
    [key, layout.byHash(repo, 'SHA512', digests.sha512)].map(async (k) => {
      if (!(await storage.head(k))) await storage.put(k, data);
    }),
  );
  return { key, size: data.length, ...digests };
}

/** Package lists are split by name prefix (as the pool is): `lib` names by their first four letters. */
export function shardOf(name: string): string {
  return name.startsWith('lib') && name.length > 3 ? name.slice(0, 4) : name.slice(0, 1);
}

/** The `Packages` text of one architecture from its shards and the `all` shards. */
async function renderShards(store: RepoStore, own: Record<string, string>, all: Record<string, string>): Promise<string> {
  const parts: string[] = [];
  for (const shard of [...new Set([...Object.keys(own), ...Object.keys(all)])].sort()) {
    const ownRecords = own[shard] ? await store.meta<DebRecord[]>(own[shard]) : [];
    const allRecords = all[shard] ? await store.meta<DebRecord[]>(all[shard]) : [];
    const text = renderPackages(ownRecords, allRecords);
    if (text) parts.push(text);
  }
  return parts.join('\n');
}

/** One shard of a package list, by record id; knows if it changed. */
class PackageList extends Map<string, DebRecord> {
  changed = false;

  static of(records: readonly DebRecord[]): PackageList {
    const list = new PackageList(records.map((r) => [recordId(r), r]));
    list.changed = false;
    return list;
  }

  override set(id: string, record: DebRecord): this {
    this.changed = true;
    return super.set(id, record);
  }

  override delete(id: string): boolean {
    const deleted = super.delete(id);
    this.changed ||= deleted;
    return deleted;
  }
}

const SEP = '\u0000';

/** The pool-map shards a publish reads and changes, loaded lazily and written back once. */
class PoolSet {
  private readonly loaded = new Map<string, { map: PoolMap; changed: boolean }>();
  constructor(
    private readonly store: RepoStore,
    private readonly current: Snapshot,
  ) {}

  private async shard(path: string): Promise<{ map: PoolMap; changed: boolean }> {
    const name = poolShard(path);
    let shard = this.loaded.get(name);
    if (!shard) {
      const key = this.current.pool[name];
      shard = { map: key ? { ...(await this.store.meta<PoolMap>(key)) } : {}, changed: false };
      this.loaded.set(name, shard);
    }
    return shard;
  }

  async get(path: string): Promise<PoolEntry | undefined> {
    const { map } = await this.shard(path);
    return Object.hasOwn(map, path) ? map[path] : undefined;
  }

  /** Only after `get` of the same path (which loads its shard). */
  set(path: string, entry: PoolEntry): void {
    const shard = this.loaded.get(poolShard(path))!;
    shard.map[path] = entry;
    shard.changed = true;
  }

  delete(path: string): void {
    const shard = this.loaded.get(poolShard(path))!;
    delete shard.map[path];
    shard.changed = true;
  }

  async save(repo: string): Promise<Record<string, string>> {
    const next = { ...this.current.pool };
    for (const [name, { map, changed }] of this.loaded) {
      if (!changed) continue;
      if (Object.keys(map).length === 0) delete next[name];
      else next[name] = await this.store.putMeta(repo, map);
    }
    return next;
  }
}

/** The package-list shards a publish reads and changes, loaded lazily and written back once. */
class ListSet {
  private readonly loaded = new Map<string, PackageList>();
  constructor(
    private readonly store: RepoStore,
    private readonly current: Snapshot,
  ) {}

  async get(distribution: string, component: string, arch: string, shard: string): Promise<PackageList> {
    const id = [distribution, component, arch, shard].join(SEP);
    let list = this.loaded.get(id);
    if (!list) {
      const key = this.current.lists[distribution]?.[component]?.[arch]?.[shard];
      list = PackageList.of(key ? await this.store.meta<DebRecord[]>(key) : []);
      this.loaded.set(id, list);
    }
    return list;
  }

  /** One shard of an architecture in every list (a replaced pool file may be listed in any distribution). */
  async allFor(arch: string, shard: string): Promise<PackageList[]> {
    const out = new Set<PackageList>();
    for (const [distribution, components] of Object.entries(this.current.lists)) {
      for (const component of Object.keys(components)) out.add(await this.get(distribution, component, arch, shard));
    }
    for (const [id, list] of this.loaded) if (id.endsWith(`${SEP}${arch}${SEP}${shard}`)) out.add(list);
    return [...out];
  }

  architectures(): string[] {
    const seen = new Set<string>();
    for (const components of Object.values(this.current.lists)) for (const byArch of Object.values(components)) for (const a of Object.keys(byArch)) seen.add(a);
    for (const [id, list] of this.loaded) if (list.size > 0) seen.add(id.split(SEP)[2]!);
    return [...seen];
  }

  /** Writes the changed shards and returns the next snapshot's list keys. */
  async save(repo: string): Promise<Snapshot['lists']> {
    const next: Snapshot['lists'] = structuredClone(this.current.lists);
    for (const [id, list] of this.loaded) {
      if (!list.changed) continue;
      const [distribution, component, arch, shard] = id.split(SEP) as [string, string, string, string];
      const shards = (((next[distribution] ??= {})[component] ??= {})[arch] ??= {});
      if (list.size === 0) delete shards[shard];
      else shards[shard] = await this.store.putMeta(repo, sortRecords([...list.values()]));
    }
    return next;
  }
}
