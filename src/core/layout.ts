/**
 * Where the repositories' objects live in storage (the signing keys' and the credentials' keys are in
 * signing/storage-keys.ts and auth/storage-keys.ts). Only `head.json` (and gc's lease) ever changes, by
 * compare-and-swap; every other object is written once.
 */
export const REPO_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export const layout = {
  reposPrefix: 'repos/',
  repoPrefix: (repo: string) => `repos/${repo}/`,
  head: (repo: string) => `repos/${repo}/head.json`,
  /** Held by the one gc that may run on the repository (see gc.ts). */
  gcLease: (repo: string) => `repos/${repo}/gc-lease.json`,
  snapshotsPrefix: (repo: string) => `repos/${repo}/snapshots/`,
  snapshot: (repo: string, id: string) => `repos/${repo}/snapshots/${id}.json`,
  /**
   * Uploaded package bytes, named by upload id (their hash is known only after they are stored),
   * spread over 256 folders so no directory grows to the size of the repository.
   */
  blob: (repo: string, id: string) => `repos/${repo}/blobs/${id.slice(0, 2)}/${id}`,
  /** The folders `blob` spreads blobs over (the first two hex digits of an id). */
  blobFolders: (repo: string) => Array.from({ length: 256 }, (_, i) => `repos/${repo}/blobs/${i.toString(16).padStart(2, '0')}/`),
  /** Index files, named by their hash: served as APT's by-hash and kept for a grace period. */
  byHash: (repo: string, algorithm: 'SHA256' | 'SHA512', hex: string) => `repos/${repo}/by-hash/${algorithm}/${hex}`,
  /** Internal JSON documents (package lists, pool maps), each written once under a new id. */
  meta: (repo: string, id: string) => `repos/${repo}/meta/${id}.json`,
  /** A resumable upload in progress, and a record per part received. */
  uploadsPrefix: (repo: string) => `repos/${repo}/uploads/`,
  upload: (repo: string, id: string) => `repos/${repo}/uploads/${id}.json`,
  uploadPartsPrefix: (repo: string, id: string) => `repos/${repo}/uploads/${id}/`,
  uploadPart: (repo: string, id: string, part: number) => `repos/${repo}/uploads/${id}/${part}.json`,
};

/** Objects of a repository that gc never collects and fsck does not count: the head, the history, gc's lease. */
export function isBookkeeping(repo: string, key: string): boolean {
  return key === layout.head(repo) || key === layout.gcLease(repo) || key.startsWith(layout.snapshotsPrefix(repo));
}
