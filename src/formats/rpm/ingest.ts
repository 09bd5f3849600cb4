import type { HasherFactory } from '../../util/hash.js';
import { hashedReading, type PackageReading } from '../../core/ingest.js';
import { RpmInspector } from './inspect.js';
import { readHead } from '../../core/remote-reading.js';
import type { RemoteFile } from '../../core/format.js';
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

/** An `.rpm` kept elsewhere, from the ranges up to the end of its main header: its SHA-256 is the source's. */
export async function readRemoteRpm({ now }: { now: () => Date }, file: RemoteFile): Promise<RpmRecord> {
  const inspector = new RpmInspector();
  await readHead(file, inspector);
  const info = inspector.finishAt(file.size);
  return { ...info, sha256: file.sha256, packageSize: file.size, location: rpmLocation(info), key: '', remote: file.remote, fileTime: Math.floor(now().getTime() / 1000) };
}

/** Where a package is served below its distribution's architecture folder: `Packages/<first letter>/<file>`. */
export function rpmLocation(r: Pick<RpmRecord, 'name' | 'version' | 'release' | 'arch'>): string {
  return `Packages/${r.name[0]!.toLowerCase()}/${r.name}-${r.version}-${r.release}.${r.arch}.rpm`;
}
