import type { RemoteObject } from '../../core/snapshot.js';

/** A dependency of an RPM (provides, requires, conflicts, …): name, optional version relation. */
export interface RpmDependency {
  name: string;
  /** Absent for an unversioned dependency. */
  flags?: 'EQ' | 'LT' | 'LE' | 'GT' | 'GE';
  epoch?: string;
  version?: string;
  release?: string;
  /** `requires` only: needed before installing (a scriptlet dependency). */
  pre?: boolean;
}

export interface RpmFile {
  path: string;
  type: 'file' | 'dir' | 'ghost';
}

export interface RpmChangelogEntry {
  author: string;
  /** Seconds since the epoch. */
  date: number;
  text: string;
}

/**
 * Everything repodata says of one RPM, read from its headers while it streamed to storage. The
 * shape of primary.xml, filelists.xml and other.xml, so rendering them is a plain walk.
 */
export interface RpmRecord {
  name: string;
  /** "0" when the package has none. */
  epoch: string;
  version: string;
  release: string;
  /** `x86_64`, `noarch`, …; `src` for a source package. */
  arch: string;
  /** A source RPM (`arch` is then `src`). */
  source: boolean;
  summary: string;
  description: string;
  packager: string;
  url: string;
  license: string;
  vendor: string;
  group: string;
  buildhost: string;
  /** The source RPM's file name; empty for a source package. */
  sourcerpm: string;
  /** Seconds since the epoch. */
  buildTime: number;
  /** Sizes in bytes: the .rpm file, the installed files, the payload archive. */
  packageSize: number;
  installedSize: number;
  archiveSize: number;
  /** Byte range of the main header in the file (primary.xml's rpm:header-range). */
  headerStart: number;
  headerEnd: number;
  provides: RpmDependency[];
  requires: RpmDependency[];
  conflicts: RpmDependency[];
  obsoletes: RpmDependency[];
  recommends: RpmDependency[];
  suggests: RpmDependency[];
  supplements: RpmDependency[];
  enhances: RpmDependency[];
  files: RpmFile[];
  /** As createrepo_c reads them: the first 10 in header order (newest first), same-second dates moved apart. */
  changelogs: RpmChangelogEntry[];
  /** SHA-256 of the whole .rpm file (hex), the pkgId of repodata. */
  sha256: string;
  /** Where the file is served, below the distribution's root (e.g. `Packages/h/hello-1.0-1.x86_64.rpm`). */
  location: string;
  /** Storage key of the package bytes; empty for a package kept elsewhere (`remote`). */
  key: string;
  remote?: RemoteObject;
  /** File mtime for repodata's `<time file>`: the upload time, seconds since the epoch. */
  fileTime: number;
}
