import { readDeb, type DebReadingDeps } from '../formats/deb/ingest.js';
import { readRpm } from '../formats/rpm/ingest.js';
import type { PackageReading } from './ingest.js';
import type { PackageRecord } from './service.js';
import type { RepoType } from './snapshot.js';

/** The reading of one package file for a repository of `type` (`component` places a `.deb`; `now` dates an `.rpm`). */
export function packageReading(type: RepoType, deps: DebReadingDeps, component: string, now: () => Date): PackageReading<PackageRecord> {
  return type === 'rpm' ? readRpm(deps, now) : readDeb(deps, component);
}
