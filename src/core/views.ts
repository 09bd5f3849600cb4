import type { DebRecord } from '../formats/deb/record.js';
import type { RpmRecord } from '../formats/rpm/record.js';
import { formatEvr } from '../formats/rpm/version.js';
import type { Snapshot } from './snapshot.js';

/** The public shapes of snapshots and packages, as the API and the CLI print them. */
export function snapshotInfo(s: Snapshot) {
  return { id: s.id, seq: s.seq, createdAt: s.createdAt, actor: s.actor };
}

export function packageInfo(r: DebRecord | RpmRecord) {
  if ('control' in r) return { package: r.package, version: r.version, architecture: r.architecture, filename: r.filename, size: r.size, sha256: r.sha256 };
  return { package: r.name, version: formatEvr(r), architecture: r.arch, filename: r.location, size: r.packageSize, sha256: r.sha256 };
}
