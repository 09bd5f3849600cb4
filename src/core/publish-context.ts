import type { Gunzip, Gzip } from '../util/codecs/compress.js';
import { digestBytes, type Digests, type HashName, type HasherFactory } from '../util/hash.js';
import type { Signer } from '../signing/signer.js';
import { layout } from './layout.js';
import type { RepoStore } from './store.js';
import type { FileEntry } from './snapshot.js';

/** What every format's publish needs. */
export interface PublishContext {
  store: RepoStore;
  signer: Signer;
  createHasher: HasherFactory;
  gzip: Gzip;
  /** The host's gunzip, when it has one faster than the compression streams. */
  gunzip?: Gunzip;
  now: () => Date;
}

/** The hashes clients may ask for an index file by (APT's by-hash uses both). */
export type IndexHash = 'SHA256' | 'SHA512';

/**
 * Stores a client-facing index file under each hash clients may ask for it by (APT's by-hash,
 * repodata's checksum-prefixed names), with the digests its index lists (`digests`), and
 * returns its entry. The same bytes as the current snapshot's file (`previous`) keep its entry:
 * the current snapshot holds them against gc, so they need no writing and no guard. `digested`:
 * the data's digests when the caller has them already.
 */
export async function storeIndex(ctx: PublishContext, repo: string, data: Uint8Array, by: readonly IndexHash[], digests: readonly HashName[], previous?: FileEntry, digested?: Partial<Digests>): Promise<FileEntry> {
  const names = [...new Set<HashName>([...digests, ...by.map((h) => (h === 'SHA256' ? 'sha256' : 'sha512') as HashName)])];
  const d = digested && names.every((n) => digested[n] !== undefined) ? (Object.fromEntries(names.map((n) => [n, digested[n]])) as unknown as Digests) : await digestBytes(ctx.createHasher, data, names);
  if (previous && previous.size === data.length && names.every((n) => previous[n] === d[n])) return previous;
  const keys = by.map((h) => layout.byHash(repo, h, h === 'SHA256' ? d.sha256 : d.sha512));
  await Promise.all(keys.map((key) => ctx.store.putContentAddressed(repo, key, data)));
  return { key: keys[0]!, size: data.length, ...d, copies: keys.slice(1) };
}
