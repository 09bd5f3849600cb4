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
 * A client-facing index file's entry, and the writing of it under each hash clients may ask for
 * it by (APT's by-hash, repodata's checksum-prefixed names), with the digests its index lists
 * (`digests`). The entry is known before the bytes are stored, so what lists it (a `Release`) can
 * be rendered and signed meanwhile; `written` must settle before the snapshot is committed. The
 * same bytes as the current snapshot's file (`previous`) keep its entry: the current snapshot
 * holds them against gc, so they need no writing and no guard. `digested`: the data's digests
 * when the caller has them already.
 */
export async function indexEntry(ctx: PublishContext, repo: string, data: Uint8Array, by: readonly IndexHash[], digests: readonly HashName[], previous?: FileEntry, digested?: Partial<Digests>): Promise<{ entry: FileEntry; written: Promise<unknown> }> {
  const names = [...new Set<HashName>([...digests, ...by.map((h) => (h === 'SHA256' ? 'sha256' : 'sha512') as HashName)])];
  const d = digested && names.every((n) => digested[n] !== undefined) ? (Object.fromEntries(names.map((n) => [n, digested[n]])) as unknown as Digests) : await digestBytes(ctx.createHasher, data, names);
  if (previous && previous.size === data.length && names.every((n) => previous[n] === d[n])) return { entry: previous, written: Promise.resolve() };
  const keys = by.map((h) => layout.byHash(repo, h, h === 'SHA256' ? d.sha256 : d.sha512));
  const written = Promise.all(keys.map((key) => ctx.store.putContentAddressed(repo, key, data)));
  return { entry: { key: keys[0]!, size: data.length, ...d, copies: keys.slice(1) }, written };
}

/** `indexEntry`, stored before it returns. */
export async function storeIndex(ctx: PublishContext, repo: string, data: Uint8Array, by: readonly IndexHash[], digests: readonly HashName[], previous?: FileEntry, digested?: Partial<Digests>): Promise<FileEntry> {
  const { entry, written } = await indexEntry(ctx, repo, data, by, digests, previous, digested);
  await written;
  return entry;
}
