import type { PackageReading } from '../../core/ingest.js';
import type { ReadingDeps } from '../../core/format.js';
import { concatBytes } from '../../util/bytes.js';
import { PackyardError } from '../../util/errors.js';
import { inspectModule, inspectProvider } from './inspect.js';
import type { TerraformPlacement } from './placement.js';
import type { TerraformRecord } from './record.js';

/** Archives are read whole once stored (their entries are checked): larger ones are refused. */
export const ARCHIVE_LIMIT = 512 * 1024 * 1024;

/**
 * Reads a module archive or a provider zip as it streams to storage: hashed on the way, kept
 * (up to ARCHIVE_LIMIT) for its entries to be checked at the end.
 */
export function readTerraform(deps: ReadingDeps, placement: TerraformPlacement): PackageReading<TerraformRecord> {
  const hasher = deps.createHasher(['sha256']);
  const chunks: Uint8Array[] = [];
  let size = 0;
  return {
    take(chunk) {
      size += chunk.length;
      if (size > ARCHIVE_LIMIT) throw new PackyardError(413, 'too-large', `an archive is at most ${ARCHIVE_LIMIT} bytes`);
      chunks.push(chunk);
      return hasher.update(chunk);
    },
    async record(key) {
      const bytes = concatBytes(chunks, size);
      chunks.length = 0;
      const { sha256 } = await hasher.digest();
      if (placement.kind === 'module') return { key, ...placement, archive: inspectModule(bytes), size, sha256 };
      const filename = `terraform-provider-${placement.type}_${placement.version}_${placement.os}_${placement.arch}.zip`;
      const { h1 } = await inspectProvider(bytes, placement, deps.createHasher);
      if (placement.kind === 'provider') return { key, ...placement, filename, size, sha256 };
      return { key, ...placement, filename, size, sha256, h1 };
    },
  };
}
