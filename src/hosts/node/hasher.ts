import { createHash, type Hash } from 'node:crypto';
import { ALL_HASHES, type Digests, type HashName, type MultiHasher } from '../../util/hash.js';

function hasherOf<N extends HashName>(hashes: readonly (readonly [N, Hash])[]): MultiHasher<N> {
  return {
    update(chunk) {
      for (const [, hash] of hashes) hash.update(chunk);
    },
    digest() {
      return Object.fromEntries(hashes.map(([name, hash]) => [name, hash.digest('hex')])) as Pick<Digests, N>;
    },
    copy: () => hasherOf(hashes.map(([name, hash]) => [name, hash.copy()] as const)),
  };
}

/** Node's OpenSSL digests (its names are ours): several times faster than pure-JS ones on large packages. */
export function createNodeHasher<N extends HashName = HashName>(names: readonly N[] = ALL_HASHES as readonly N[]): MultiHasher<N> {
  return hasherOf(names.map((name) => [name, createHash(name)] as const));
}
