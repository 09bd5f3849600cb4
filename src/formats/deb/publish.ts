import { PackyardError } from '../../util/errors.js';
import { storeIndex, type PublishContext } from '../../core/publish-context.js';
import { distributionsOf, nextSnapshot, type Change, type FileEntry, type RepoSettings, type Snapshot } from '../../core/snapshot.js';
import { recordId, type DebRecord } from './record.js';
import { renderShards, shardOf } from './package-lists.js';
import { sortRecords } from './packages-index.js';
import { ListSet } from '../../core/package-lists.js';
import { PoolSet } from '../../core/pool-set.js';
import { renderComponentRelease, renderRelease } from './release.js';
import { own } from '../../util/own.js';

interface Placement {
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

interface MutationResult {
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
  const lists = new ListSet<DebRecord>(ctx.store, current, { id: recordId, sort: sortRecords });
  const pool = new PoolSet(ctx.store, current);
  const changes: Change[] = [];
  const unusedKeys: string[] = [];

  for (const { distribution, component, record } of mutation.add ?? []) {
    const list = await lists.get(distribution, component, record.architecture, shardOf(record.package));
    const id = recordId(record);
    const existing = list.get(id);
    const pooled = await pool.get(record.filename);
    if (existing?.sha256 === record.sha256 || (!existing && pooled?.sha256 === record.sha256)) {
      // Unless it is the very blob published (a resumable upload published again after a crash).
      if (record.key !== (existing ?? pooled)!.key) unusedKeys.push(record.key);
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
    const components = spec.component ? [spec.component] : Object.keys(own(current.lists, spec.distribution) ?? {});
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

  for (const distribution of distributionsOf({ lists: nextLists, settings })) {
    const distSettings = own(settings.distributions, distribution) ?? {};
    const components: Record<string, Record<string, Record<string, string>>> = { ...Object.fromEntries((distSettings.components ?? []).map((c) => [c, {}])), ...own(nextLists, distribution) };
    const settingsTag = JSON.stringify(distSettings) + architectures.join(',');
    let dirty = own(rendered, `dists/${distribution}`) !== settingsTag;
    for (const [component, byArch] of Object.entries(components)) {
      for (const arch of architectures) {
        const dir = `dists/${distribution}/${component}/binary-${arch}`;
        const archShards = own(byArch, arch) ?? {};
        const all = own(byArch, 'all') ?? {};
        const inputs = `${JSON.stringify(archShards)}|${JSON.stringify(all)}|${settingsTag}`;
        if (own(rendered, dir) === inputs) continue;
        const packages = new TextEncoder().encode(await renderShards(ctx.store, archShards, all));
        // Compressing runs off the main thread on hosts that can: hash and store meanwhile.
        [files[`${dir}/Packages`], files[`${dir}/Packages.gz`]] = await Promise.all([storeIndex(ctx, repo, 'deb', packages), ctx.gzip(packages).then((gz) => storeIndex(ctx, repo, 'deb', gz))]);
        files[`${dir}/Release`] = await storeIndex(ctx, repo, 'deb', new TextEncoder().encode(renderComponentRelease(repo, distribution, distSettings, component, arch)));
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
    files[`${prefix}Release`] = await storeIndex(ctx, repo, 'deb', releaseBytes);
    files[`${prefix}InRelease`] = await storeIndex(ctx, repo, 'deb', new TextEncoder().encode(await ctx.signer.clearSign(release)));
    files[`${prefix}Release.gpg`] = await storeIndex(ctx, repo, 'deb', new TextEncoder().encode(await ctx.signer.detachSign(releaseBytes)));
    rendered[`dists/${distribution}`] = settingsTag;
  }

  const snapshot = nextSnapshot(current, date, { actor: mutation.actor, changes, settings, files, pool: await pool.save(repo), lists: nextLists, rendered });
  return { snapshot, unusedKeys };
}

/** A replaced pool file changes under every distribution that lists it, so all their lists are updated. */
async function replaceEverywhere(lists: ListSet<DebRecord>, pool: PoolSet, record: DebRecord): Promise<void> {
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

