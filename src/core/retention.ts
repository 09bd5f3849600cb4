import { PackyardError } from '../util/errors.js';
import { own } from '../util/own.js';
import type { AnyFormat, ListAddress, PackageRecord } from './format.js';
import type { ListSet } from './package-lists.js';
import type { RepoSettings } from './snapshot.js';

/** How many versions of each package a distribution keeps: its own setting, else the repository's; undefined: all. */
export function keepVersionsIn(settings: RepoSettings, distribution: string): number | undefined {
  return (own(settings.distributions, distribution)?.retention ?? settings.retention)?.keepVersions;
}

/** Retention needs the format's version order; a 400 for a format without one (Terraform). */
export function checkRetention(format: AnyFormat, settings: RepoSettings): void {
  const set = settings.retention !== undefined || Object.values(settings.distributions).some((d) => d.retention !== undefined);
  if (set && !format.compareVersions) throw new PackyardError(400, 'not-supported', `retention applies to repositories with package versions (deb, rpm), not to ${format.type} repositories`);
}

/**
 * The distributions whose retention `after` sets or lowers: a user who sets keepVersions expects
 * what is beyond it to go at once, not at the next upload.
 */
export function tightened(before: RepoSettings, after: RepoSettings, distributions: readonly string[]): string[] {
  return distributions.filter((d) => {
    const now = keepVersionsIn(after, d);
    const was = keepVersionsIn(before, d);
    return now !== undefined && (was === undefined || now < was);
  });
}

/** The list shards to prune, each for some package names or (null) for all. */
export class PrunePlaces {
  private readonly places = new Map<string, { at: ListAddress; names: Set<string> | null }>();

  add(at: ListAddress, name: string | null): void {
    const id = [at.distribution, at.component, at.architecture, at.shard].join('\u0000');
    const place = this.places.get(id);
    if (!place) this.places.set(id, { at, names: name === null ? null : new Set([name]) });
    else if (name === null) place.names = null;
    else place.names?.add(name);
  }

  [Symbol.iterator]() {
    return this.places.values();
  }
}

/**
 * Removes from each place all but the newest `keepVersions` of each package, by the format's
 * version order (a list holds one place: Debian's distribution, component and architecture;
 * RPM's distribution and architecture), and tells `removed` of each (with the number kept). Only the places given are
 * read: a publish prunes what it touched.
 */
export async function prune(format: AnyFormat, lists: ListSet<PackageRecord>, settings: RepoSettings, places: PrunePlaces, removed: (at: ListAddress, record: PackageRecord, keep: number) => Promise<void>): Promise<void> {
  const compare = format.compareVersions;
  if (!compare) return;
  for (const { at, names } of places) {
    const keep = keepVersionsIn(settings, at.distribution);
    if (keep === undefined) continue;
    const list = await lists.get(at);
    const byName = new Map<string, { id: string; version: string; record: PackageRecord }[]>();
    for (const [id, record] of list) {
      const { package: name, version } = format.describe(record);
      if (names && !names.has(name)) continue;
      let versions = byName.get(name);
      if (!versions) byName.set(name, (versions = []));
      versions.push({ id, version, record });
    }
    for (const versions of byName.values()) {
      if (versions.length <= keep) continue;
      versions.sort((a, b) => compare(b.version, a.version));
      for (const { id, record } of versions.slice(keep)) {
        list.delete(id);
        await removed(at, record, keep);
      }
    }
  }
}
