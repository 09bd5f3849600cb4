import type { PackageReading } from '../../core/ingest.js';
import type { ReadingDeps } from '../../core/format.js';
import { concatBytes } from '../../util/bytes.js';
import { PackyardError } from '../../util/errors.js';
import { checkProviderArchive } from './provider-archive.js';
import { providerHashV1 } from './dirhash.js';
import { readModuleArchive, TarGzModuleReader } from './module-archive.js';
import type { TerraformPlacement } from './placement.js';
import type { TerraformRecord } from './record.js';

/** The largest archive taken (a zip is read whole once it has arrived: its index is at its end). */
export const ARCHIVE_LIMIT = 512 * 1024 * 1024;

/**
 * Reads a module archive or a provider zip as it streams to storage, hashed on the way. A
 * gzipped tar is checked as it goes and nothing of it kept; a zip is kept (up to ARCHIVE_LIMIT)
 * for its entries to be checked at the end.
 */
export function readTerraform(deps: ReadingDeps, placement: TerraformPlacement): PackageReading<TerraformRecord> {
  const hasher = deps.createHasher(['sha256']);
  const chunks: Uint8Array[] = [];
  let tar: TarGzModuleReader | undefined;
  let size = 0;
  return {
    take(chunk) {
      if (size === 0 && placement.kind === 'module' && chunk[0] === 0x1f && chunk[1] === 0x8b) tar = new TarGzModuleReader();
      size += chunk.length;
      if (size > ARCHIVE_LIMIT) throw new PackyardError(413, 'too-large', `an archive is at most ${ARCHIVE_LIMIT} bytes`);
      if (tar) tar.push(chunk);
      else chunks.push(chunk);
      return hasher.update(chunk);
    },
    async record(key) {
      const { sha256 } = await hasher.digest();
      if (placement.kind === 'module') {
        const archive = tar ? tar.finish() : readModuleArchive(concatBytes(chunks.splice(0), size));
        return { key, ...placement, archive: archive.kind, size, sha256 };
      }
      const bytes = concatBytes(chunks.splice(0), size);
      const filename = `terraform-provider-${placement.type}_${placement.version}_${placement.os}_${placement.arch}.zip`;
      await checkProviderArchive(bytes, placement);
      if (placement.kind === 'provider') return { key, ...placement, filename, size, sha256 };
      // A mirror lists the h1: hash of the unpacked files, which Terraform checks.
      return { key, ...placement, filename, size, sha256, h1: await providerHashV1(bytes, deps.createHasher) };
    },
  };
}
