import type { Digests } from '../../util/hash.js';
import type { RemoteObject } from '../../core/snapshot.js';

/**
 * A package in a list: its control paragraph as uploaded, where it is stored, and its digests
 * (all four for a package stored here; SHA-256 alone for one kept elsewhere, read by ranges).
 */
export interface DebRecord extends Partial<Digests> {
  sha256: string;
  package: string;
  version: string;
  architecture: string;
  source: string;
  /** The control paragraph exactly as in the package, without a trailing newline. */
  control: string;
  /** Pool path below the repository root, as in the Packages `Filename` field. */
  filename: string;
  size: number;
  /** Storage key of the package bytes; empty for a package kept elsewhere (`remote`). */
  key: string;
  remote?: RemoteObject;
}

export function recordId(r: Pick<DebRecord, 'package' | 'version' | 'architecture'>): string {
  return `${r.package}_${r.version}_${r.architecture}`;
}

/** Debian's pool layout: `pool/<component>/<prefix>/<source>/<name>_<version>_<arch>.deb`. */
export function poolPath(component: string, source: string, pkg: string, version: string, arch: string): string {
  const prefix = source.startsWith('lib') && source.length > 3 ? source.slice(0, 4) : source.slice(0, 1);
  const upstreamVersion = version.includes(':') ? version.slice(version.indexOf(':') + 1) : version;
  return `pool/${component}/${prefix}/${source}/${pkg}_${upstreamVersion}_${arch}.deb`;
}
