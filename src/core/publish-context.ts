import type { Gunzip, Gzip } from '../util/codecs/compress.js';
import { digestBytes, type HasherFactory } from '../util/hash.js';
import type { Signer } from '../signing/signer.js';
import { layout } from './layout.js';
import type { RepoStore } from './store.js';
import type { FileEntry, RepoType } from './snapshot.js';

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

/** The hashes clients ask for a repository's index files by: APT's by-hash uses both. */
export function indexHashes(type: RepoType): ('SHA256' | 'SHA512')[] {
  return type === 'deb' ? ['SHA256', 'SHA512'] : ['SHA256'];
}

/**
 * Stores a client-facing index file under the hashes clients may ask for it by (APT's by-hash,
 * repodata's checksum-prefixed names), and returns its entry.
 */
export async function storeIndex(ctx: PublishContext, repo: string, type: RepoType, data: Uint8Array): Promise<FileEntry> {
  const digests = await digestBytes(ctx.createHasher, data);
  const key = layout.byHash(repo, 'SHA256', digests.sha256);
  await Promise.all(indexHashes(type).map((algorithm) => ctx.store.putContentAddressed(repo, layout.byHash(repo, algorithm, algorithm === 'SHA256' ? digests.sha256 : digests.sha512), data)));
  return { key, size: data.length, ...digests };
}
