import { md5, sha1 } from '@noble/hashes/legacy.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { type MultiHasher, toHex } from '../../util/hash.js';

/**
 * The four digests in plain JavaScript (@noble/hashes), for a Worker isolate: no Node APIs, and
 * synchronous like the Node host's. It is slow: about 30 MB/s for all four together in workerd,
 * where Node's OpenSSL does about 250 MB/s. workerd's native crypto.DigestStream (MD5 included)
 * matches Node, but it is asynchronous, so it cannot stand behind this synchronous interface.
 */
export function createWorkerHasher(): MultiHasher {
  const hashes = [md5.create(), sha1.create(), sha256.create(), sha512.create()] as const;
  return {
    update(chunk) {
      for (const hash of hashes) hash.update(chunk);
    },
    digest() {
      const [m, s1, s256, s512] = hashes.map((hash) => toHex(hash.digest()));
      return { md5: m!, sha1: s1!, sha256: s256!, sha512: s512! };
    },
  };
}
