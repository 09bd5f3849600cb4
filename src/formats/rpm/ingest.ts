import type { HasherFactory } from '../../util/hash.js';
import { hashedReading, type PackageReading } from '../../core/ingest.js';
import { RpmInspector } from './inspect.js';
import type { RpmRecord } from './record.js';

/** Hashes an `.rpm`'s bytes and reads its headers as they go by, then makes its record. */
export function readRpm({ createHasher, now }: { createHasher: HasherFactory; now: () => Date }): PackageReading<RpmRecord> {
  const inspector = new RpmInspector();
  // repodata identifies a package by its SHA-256 alone.
  return hashedReading(createHasher, ['sha256'], (chunk) => inspector.push(chunk), async (key, size, { sha256 }) => {
    const info = inspector.finish();
    return { ...info, sha256, packageSize: size, location: rpmLocation(info), key, fileTime: Math.floor(now().getTime() / 1000) };
  });
}

/** Where a package is served below its distribution's architecture folder: `Packages/<first letter>/<file>`. */
export function rpmLocation(r: Pick<RpmRecord, 'name' | 'version' | 'release' | 'arch'>): string {
  return `Packages/${r.name[0]!.toLowerCase()}/${r.name}-${r.version}-${r.release}.${r.arch}.rpm`;
}
