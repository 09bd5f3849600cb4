import { PackyardError } from '../../util/errors.js';
import type { HasherFactory } from '../../util/hash.js';

/** The kind of a module archive, by its first bytes. */
export function inspectModule(bytes: Uint8Array): 'tar.gz' | 'zip' {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return 'tar.gz';
  if (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) return 'zip';
  throw new PackyardError(422, 'bad-archive', 'a module is a .tar.gz or a .zip archive');
}

export async function inspectProvider(bytes: Uint8Array, _placement: { type: string; version: string; os: string; arch: string }, _createHasher: HasherFactory): Promise<{ h1: string }> {
  if (!(bytes[0] === 0x50 && bytes[1] === 0x4b)) throw new PackyardError(422, 'bad-provider', 'a provider package is a .zip archive');
  return { h1: '' };
}
