// What a sync of a GitHub source answers, the publish every kind of sync ends with, and its downloads hashed as they stream.
import type { Mutation, Removal } from '../../core/publish.js';
import type { RepositoryService } from '../../core/service.js';
import type { Snapshot } from '../../core/snapshot.js';
import type { HasherFactory } from '../../util/hash.js';
import type { Gunzip } from '../../util/codecs/compress.js';
import type { GitHubClient, RateLimit } from './client.js';
import type { GitHubSettings } from './settings.js';

export interface SyncDeps {
  service: RepositoryService;
  client: GitHubClient;
  createHasher: HasherFactory;
  gunzip?: Gunzip;
  now: () => Date;
  /** Assets read at once (default 8). */
  concurrency?: number;
}

/** A package as a sync report names it. */
export interface SyncedPackage {
  package: string;
  version: string;
  architecture: string;
  distribution: string;
  release: string;
  asset: string;
}

export interface SyncReport {
  repo: string;
  repository: string;
  /** The snapshot published, or null when nothing changed. */
  snapshot: string | null;
  added: SyncedPackage[];
  /** Assets whose bytes changed under the same release and name. */
  changed: SyncedPackage[];
  removed: SyncedPackage[];
  unchanged: number;
  /** Assets that are not packages of this repository's type (checksums, tarballs). */
  ignored: number;
  skipped: { release: string; asset?: string; reason: string }[];
  rateLimit: Pick<RateLimit, 'limit' | 'remaining' | 'used' | 'resource'> & { reset: string } | null;
  requests: { pages: number; notModified: number };
  /** Bytes read of assets (ranges, and whole assets without a digest). */
  bytesFetched: number;
}

/** What a sync changes in one head: the publish's mutation, and the report's lines. */
export interface Plan extends Pick<SyncReport, 'added' | 'changed' | 'removed' | 'unchanged' | 'skipped'> {
  add: Mutation['add'];
  remove: Removal[];
}

/** What the listing and reading of a sync saw, for its report. */
export interface Listed {
  rateLimit: RateLimit | undefined;
  pages: number;
  notModified: number;
  ignored: number;
  skipped: SyncReport['skipped'];
  bytesFetched: () => number;
}

/**
 * Publishes a sync's plan, made again from the head the publish lands on (an upload or another
 * sync that landed meanwhile is seen; what was read is reused), and reports it.
 */
export async function publishPlan(deps: SyncDeps, repo: string, settings: GitHubSettings, plan: (head: Snapshot) => Promise<Plan>, listed: Listed): Promise<SyncReport> {
  let last: Plan | undefined;
  const result = await deps.service.publish(repo, async (head) => {
    last = await plan(head);
    return { actor: `github:${settings.repository}`, replace: true, add: last.add, remove: last.remove, prunedAdditions: 'skip' };
  });
  // What retention left out is skipped, not added: releases older than the versions kept.
  const landed = new Set((result.changed ? result.snapshot.changes : []).map((c) => `${c.action}|${c.distribution}|${c.package}|${c.version}|${c.architecture}`));
  const landedAs = (action: string) => (p: SyncReport['added'][number]) => landed.has(`${action}|${p.distribution}|${p.package}|${p.version}|${p.architecture}`);
  const pruned = [...last!.added.filter((p) => !landedAs('add')(p) && !landedAs('replace')(p)), ...last!.changed.filter((p) => !landedAs('replace')(p) && !landedAs('add')(p))];
  const rl = listed.rateLimit ?? deps.client.rateLimit;
  return {
    repo,
    repository: settings.repository,
    snapshot: result.changed ? result.snapshot.id : null,
    added: last!.added.filter((p) => !pruned.includes(p)),
    changed: last!.changed.filter((p) => !pruned.includes(p)),
    removed: last!.removed,
    unchanged: last!.unchanged,
    ignored: listed.ignored,
    skipped: [...listed.skipped, ...last!.skipped, ...pruned.map((p) => ({ release: p.release, asset: p.asset, reason: `${p.package} ${p.version} is older than the versions ${p.distribution} keeps (retention)` }))],
    rateLimit: rl ? { limit: rl.limit, remaining: rl.remaining, used: rl.used, resource: rl.resource, reset: rl.reset.toISOString() } : null,
    requests: { pages: listed.pages, notModified: listed.notModified },
    bytesFetched: listed.bytesFetched(),
  };
}
