import { ALL_HASHES, type HasherFactory } from '../../util/hash.js';
import { hashedReading, type PackageReading } from '../../core/ingest.js';
import { DebInspector, type DebInfo } from './inspect.js';
import { readHead } from '../../core/remote-reading.js';
import type { RemoteFile } from '../../core/format.js';
import type { Gunzip } from '../../util/codecs/compress.js';
import { poolPath, type DebRecord } from './record.js';

export interface DebReadingDeps {
  createHasher: HasherFactory;
  gunzip?: Gunzip;
}

/** Hashes a `.deb`'s bytes and reads its control member as they go by, then makes its record. */
export function readDeb({ createHasher, gunzip }: DebReadingDeps, component: string): PackageReading<DebRecord> {
  const inspector = new DebInspector(gunzip);
  // APT indexes list all four digests of every package stored here.
  return hashedReading(createHasher, ALL_HASHES, (chunk) => inspector.push(chunk), async (key, size, digests) => ({ ...recordOf(await inspector.finish(), component, size), key, ...digests }));
}

/** A `.deb` kept elsewhere, from the ranges up to its data member's header: its SHA-256 is the source's. */
export async function readRemoteDeb({ gunzip }: DebReadingDeps, file: RemoteFile, component: string): Promise<DebRecord> {
  const inspector = new DebInspector(gunzip);
  await readHead(file, inspector);
  return { ...recordOf(await inspector.finishAt(file.size), component, file.size), key: '', remote: file.remote, sha256: file.sha256 };
}

function recordOf(info: DebInfo, component: string, size: number) {
  return {
    package: info.package,
    version: info.version,
    architecture: info.architecture,
    source: info.source,
    control: info.control.text,
    filename: poolPath(component, info.source, info.package, info.version, info.architecture),
    size,
  };
}
