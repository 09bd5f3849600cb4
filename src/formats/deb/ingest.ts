import { ALL_HASHES, type HasherFactory } from '../../util/hash.js';
import { hashedReading, type PackageReading } from '../../core/ingest.js';
import { DebInspector } from './inspect.js';
import type { Gunzip } from '../../util/codecs/compress.js';
import { poolPath, type DebRecord } from './record.js';

export interface DebReadingDeps {
  createHasher: HasherFactory;
  gunzip?: Gunzip;
}

/** Hashes a `.deb`'s bytes and reads its control member as they go by, then makes its record. */
export function readDeb({ createHasher, gunzip }: DebReadingDeps, component: string): PackageReading<DebRecord> {
  const inspector = new DebInspector(gunzip);
  // APT indexes list all four digests of every package.
  return hashedReading(createHasher, ALL_HASHES, (chunk) => inspector.push(chunk), async (key, size, digests) => {
    const info = await inspector.finish();
    return {
      package: info.package,
      version: info.version,
      architecture: info.architecture,
      source: info.source,
      control: info.control.text,
      filename: poolPath(component, info.source, info.package, info.version, info.architecture),
      size,
      key,
      ...digests,
    };
  });
}
