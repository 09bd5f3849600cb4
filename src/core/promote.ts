import { z } from 'zod';
import { PackyardError } from '../util/errors.js';
import { parseInput } from '../util/input.js';
import { own } from '../util/own.js';
import { layout, REPO_NAME } from './layout.js';
import { DISTRIBUTION_NAME } from './settings.js';
import { distributionsOf, type Snapshot } from './snapshot.js';
import { buildSnapshot, type Removal } from './publish.js';
import { poolEntry } from './pool-set.js';
import { readShard } from './diff.js';
import { checkDistribution } from './distribution-check.js';
import type { AnyFormat, ListAddress, PackageInfo, PackageRecord } from './format.js';
import type { RepositoryService } from './service.js';

const name = z.string().min(1).max(200);

export const copySchema = z
  .object({
    from: z.string().regex(DISTRIBUTION_NAME, 'is not a distribution name'),
    to: z.string().regex(DISTRIBUTION_NAME, 'is not a distribution name'),
    packages: z.array(z.object({ name, version: name }).strict()).min(1).max(10_000),
    fromRepo: z.string().regex(REPO_NAME, 'is not a repository name').optional(),
    architecture: name.optional(),
    move: z.boolean().optional(),
    createDistribution: z.boolean().optional(),
  })
  .strict();

export type CopySpec = z.infer<typeof copySchema>;

export interface CopyResult {
  snapshot: Snapshot;
  changed: boolean;
  /** What was copied (or found in `to` already), each as it now is in `to`. */
  packages: (PackageInfo & { distribution: string })[];
}

/** A record found in the source, where it was, with its bytes as the source's pool has them. */
interface Found {
  at: ListAddress;
  record: PackageRecord;
}

/** The format of a repository if copy and rollback apply to it; a 400 saying so if not. */
export function lifecycleFormat(service: RepositoryService, snapshot: Snapshot, what: string): AnyFormat & { lifecycle: NonNullable<AnyFormat['lifecycle']> } {
  const format = service.formats.of(snapshot);
  if (!format.lifecycle) throw new PackyardError(400, 'not-supported', `${what} does not apply to ${format.title} repositories (${snapshot.repo} is one)`);
  return format as AnyFormat & { lifecycle: NonNullable<AnyFormat['lifecycle']> };
}

/**
 * Copies (or with `move`, moves) package versions from one distribution to another, in one
 * atomic publish: all of them land, or none does. Within one repository the copies share the
 * pool's files (no bytes are copied). From another repository each file is copied into this
 * one's storage before the publish: pool keys are per repository and each repository's gc marks
 * only its own snapshots, so a shared object would be lost to the other's gc or deletion.
 */
export async function copyPackages(service: RepositoryService, repo: string, input: unknown, actor: string): Promise<CopyResult> {
  const spec = parseInput(copySchema, input);
  const target = await service.getRepo(repo);
  const format = lifecycleFormat(service, target, 'copy');
  const sourceRepo = spec.fromRepo ?? repo;
  const crossRepo = sourceRepo !== repo;
  if (spec.move && crossRepo) throw new PackyardError(400, 'invalid-request', 'move: only within one repository (copy, then remove from the other)');
  if (!crossRepo && spec.from === spec.to) throw new PackyardError(400, 'invalid-request', `from and to are both ${spec.from}`);
  const store = service.store;

  // From another repository, the files are copied first (the publish may then be retried on
  // another head without copying them again).
  let copied: Found[] | undefined;
  const copiedKeys: string[] = [];
  const copyStarted = Date.now();
  let unused: string[] = [];
  let published = false;
  try {
    if (crossRepo) {
      const source = await service.getRepo(sourceRepo);
      if (source.type !== target.type) throw new PackyardError(400, 'type-mismatch', `${sourceRepo} is a ${source.type} repository and ${repo} a ${target.type} one: packages copy only between repositories of one type`);
      copied = [];
      for (const { at, record } of await findPackages(service, format, source, spec)) {
        if (record.remote || !record.key) {
          copied.push({ at, record });
          continue;
        }
        const key = layout.blob(repo, crypto.randomUUID());
        const object = await store.storage.get(record.key);
        if (!object) throw new PackyardError(409, 'source-changed', `${format.describe(record).filename} of ${sourceRepo} is no longer stored; try again`);
        await store.storage.put(key, object.body, { fresh: true });
        copiedKeys.push(key);
        copied.push({ at, record: { ...record, key } });
      }
    }
    let found: Found[] = [];
    const result = await store.commit(repo, async (current, guard) => {
      found = copied ?? (await findPackages(service, format, current!, spec));
      const batches = new Map<string, { placement: unknown; records: PackageRecord[] }>();
      for (const { at, record } of found) {
        const coordinates = { ...format.where(at), distribution: spec.to };
        const key = JSON.stringify(coordinates);
        let batch = batches.get(key);
        if (!batch) {
          batch = { placement: format.placement(coordinates, current!), records: [] };
          checkDistribution(current!, format, batch.placement, { create: spec.createDistribution });
          batches.set(key, batch);
        }
        batch.records.push(record);
      }
      const remove: Removal[] | undefined = spec.move
        ? found.map(({ at, record }) => {
            const { package: pkg, version, architecture } = format.describe(record);
            return { coordinates: format.where(at), package: pkg, version, architecture };
          })
        : undefined;
      const built = await buildSnapshot(service.ctx, format, current!, { actor, add: [...batches.values()], remove, prunedAdditions: spec.move ? 'refuse' : 'record' });
      // Within a repository, a record's key is the source's own blob: never "unused".
      unused = crossRepo ? built.unusedKeys : [];
      const from = { distribution: spec.from, ...(crossRepo ? { repo: sourceRepo } : {}) };
      if (built.snapshot) built.snapshot.changes = built.snapshot.changes.map((c) => (c.action === 'add' ? { ...c, from } : c));
      const notUsed = new Set(unused);
      guard.inputs(
        copiedKeys.filter((k) => !notUsed.has(k)),
        copyStarted,
      );
      return built.snapshot;
    });
    published = true;
    return { ...result, packages: found.map(({ record }) => ({ ...format.describe(record), distribution: spec.to })) };
  } finally {
    // Copies the snapshot does not use (all of them, if nothing was published) go at once.
    const drop = published ? unused : copiedKeys;
    await Promise.all(drop.map((key) => store.storage.delete(key).catch(() => {})));
  }
}

/**
 * The records of `spec.packages` in `spec.from` of `snapshot` (each architecture, or the one
 * named), their bytes as the pool has them; a 404 naming every one not found.
 */
async function findPackages(service: RepositoryService, format: AnyFormat, snapshot: Snapshot, spec: CopySpec): Promise<Found[]> {
  if (!distributionsOf(snapshot).includes(spec.from)) throw new PackyardError(404, 'distribution-not-found', `repository ${snapshot.repo} has no distribution "${spec.from}" (it has: ${distributionsOf(snapshot).join(', ') || 'none'})`);
  const components = own(snapshot.lists, spec.from) ?? {};
  const architectures = spec.architecture ? [spec.architecture] : [...new Set(Object.values(components).flatMap((byArch) => Object.keys(byArch)))].sort();
  const found: Found[] = [];
  const missing: string[] = [];
  for (const { name, version } of spec.packages) {
    let hits = 0;
    for (const architecture of architectures) {
      const rid = format.id(name, version, architecture);
      for (const at of format.removalLists({ distribution: spec.from }, name, architecture, snapshot).lists) {
        const key = own(own(own(own(snapshot.lists, at.distribution), at.component), at.architecture), at.shard);
        const record = key ? (await readShard(service.store, key)).find((r) => format.id(format.describe(r).package, format.describe(r).version, format.describe(r).architecture) === rid) : undefined;
        if (!record) continue;
        const entry = await poolEntry(service.store, snapshot, format.poolPath(record, at));
        found.push({ at, record: entry ? { ...record, key: entry.key ?? '', remote: entry.remote } : record });
        hits++;
      }
    }
    if (hits === 0) missing.push(`${name} ${version}${spec.architecture ? ` (${spec.architecture})` : ''}`);
  }
  if (missing.length) throw new PackyardError(404, 'package-not-found', `not in ${snapshot.repo}/${spec.from}: ${missing.join(', ')}; nothing was copied`);
  return found;
}
