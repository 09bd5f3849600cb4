import { ALL_HASHES, type Digests, type HashName, type MultiHasher, toHex } from '../../util/hash.js';

const ALGORITHMS: Record<HashName, string> = { md5: 'MD5', sha1: 'SHA-1', sha256: 'SHA-256', sha512: 'SHA-512' };

/**
 * Digests through workerd's native crypto.DigestStream (MD5 included): about 230 MB/s for all
 * four, eight times what pure JavaScript manages. An update resolves once every stream has taken
 * the chunk, so the caller may reuse it and a fast upload waits instead of queueing.
 */
export function createWorkerHasher<N extends HashName = HashName>(names: readonly N[] = ALL_HASHES as readonly N[]): MultiHasher<N> {
  const streams = names.map((name) => new crypto.DigestStream(ALGORITHMS[name]));
  const writers = streams.map((stream) => stream.getWriter());
  return {
    async update(chunk) {
      await Promise.all(writers.map((writer) => writer.write(chunk)));
    },
    async digest() {
      await Promise.all(writers.map((writer) => writer.close()));
      const hex = await Promise.all(streams.map(async (stream) => toHex(await stream.digest)));
      return Object.fromEntries(names.map((name, i) => [name, hex[i]])) as Pick<Digests, N>;
    },
  };
}
