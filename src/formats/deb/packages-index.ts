import { compareVersions } from './version.js';
import type { DebRecord } from './record.js';

/**
 * One `Packages` stanza: the control paragraph verbatim, then where to fetch the file and its
 * digests (a package kept elsewhere may have SHA256 alone, which apt accepts).
 */
export function renderStanza(r: DebRecord): string {
  const legacy = r.md5 === undefined ? '' : `MD5sum: ${r.md5}\nSHA1: ${r.sha1}\n`;
  return `${r.control}\nFilename: ${r.filename}\nSize: ${r.size}\n${legacy}SHA256: ${r.sha256}${r.sha512 === undefined ? '' : `\nSHA512: ${r.sha512}`}\n`;
}

export function sortRecords(records: DebRecord[]): DebRecord[] {
  return records.sort(
    (a, b) =>
      (a.package < b.package ? -1 : a.package > b.package ? 1 : 0) ||
      compareVersions(a.version, b.version) ||
      (a.architecture < b.architecture ? -1 : a.architecture > b.architecture ? 1 : 0),
  );
}

/** The `Packages` file of one architecture: its own packages and the `Architecture: all` ones. */
export function renderPackages(own: DebRecord[], all: DebRecord[]): string {
  return sortRecords([...own, ...all]).map(renderStanza).join('\n');
}
