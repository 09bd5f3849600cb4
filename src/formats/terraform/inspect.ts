import type { HasherFactory } from '../../util/hash.js';
import { readModuleArchive } from './module-archive.js';
import { checkProviderArchive } from './provider-archive.js';
import { providerHashV1 } from './dirhash.js';

/** A module archive checked (paths, links, sizes, a `.tf` file): its kind. */
export function inspectModule(bytes: Uint8Array): 'tar.gz' | 'zip' {
  return readModuleArchive(bytes).kind;
}

/** A provider zip checked (its executable named as Terraform expects), and its `h1:` hash. */
export async function inspectProvider(bytes: Uint8Array, placement: { type: string; version: string; os: string; arch: string }, createHasher: HasherFactory): Promise<{ h1: string }> {
  await checkProviderArchive(bytes, placement);
  return { h1: await providerHashV1(bytes, createHasher) };
}
