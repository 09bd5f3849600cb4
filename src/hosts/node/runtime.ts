import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { formats } from '../../formats/index.js';
import { FsStorage } from './fs-storage.js';
import { createNodeHasher } from './hasher.js';
import { nodeGunzip, nodeGzip } from './gzip.js';
import { Keyring } from '../../signing/keyring.js';
import { RepositoryService } from '../../core/service.js';
import { AdminToken } from '../../auth/admin-token.js';
import type { Signer } from '../../signing/signer.js';
import type { Storage } from '../../storage/types.js';
import type { S3Storage } from '../../storage/s3.js';
import { Sources } from '../../sources/index.js';
import { describeLocation, s3StorageAt, type StoreLocation } from './store-location.js';
import { PackyardError } from '../../util/errors.js';

export interface Runtime {
  location: StoreLocation;
  /** The location as shown to a user, and as a flag for a command they can paste. */
  shown: string;
  flag: string;
  storage: Storage;
  /** Set for a data directory: hosts read its files straight from disk. */
  fs?: FsStorage;
  /** Set for a bucket: pool files may be answered by a presigned URL. */
  s3?: S3Storage;
  keyring: Keyring;
  signer: Signer;
  service: RepositoryService;
  sources: Sources;
  /** Set when this start generated the first signing key. */
  generatedKey?: string;
}

/** Everything Packyard needs, over a local data directory or a bucket. */
export async function openStore(location: StoreLocation, options: { headTtlMs?: number } = {}): Promise<Runtime> {
  let fs: FsStorage | undefined;
  let s3: S3Storage | undefined;
  if (location.kind === 'dir') {
    await mkdir(location.path, { recursive: true, mode: 0o700 });
    fs = new FsStorage(location.path);
  } else {
    s3 = s3StorageAt(location);
  }
  const storage: Storage = fs ?? s3!;
  const keyring = new Keyring(storage);
  const algorithm = process.env.PACKYARD_KEY_ALGORITHM === 'rsa4096' ? 'rsa4096' : 'ed25519';
  const { signer, generated } = await reached(location, keyring.signer('Packyard repository signing key', algorithm));
  const service = new RepositoryService({ formats, storage, signer, createHasher: createNodeHasher, gzip: nodeGzip, gunzip: nodeGunzip, headTtlMs: options.headTtlMs });
  return { location, ...describeLocation(location), storage, fs, s3, keyring, signer, service, sources: new Sources({ service }), generatedKey: generated };
}

/**
 * The first read of a bucket is where a missing bucket, a wrong endpoint or refused credentials
 * show: say so in a sentence naming the bucket, not as a storage call's stack trace.
 */
async function reached<T>(location: StoreLocation, first: Promise<T>): Promise<T> {
  try {
    return await first;
  } catch (err) {
    if (location.kind !== 's3' || err instanceof PackyardError) throw err;
    const cause = (err as Error).cause instanceof Error ? `: ${((err as Error).cause as Error).message}` : '';
    throw new PackyardError(502, 'storage-unreachable', `cannot use ${location.url} at ${process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL || 'AWS'}: ${(err as Error).message}${cause}`);
  }
}

/** `openStore` of a data directory. */
export function openDataDir(dir: string, options: { headTtlMs?: number } = {}): Promise<Runtime> {
  return openStore({ kind: 'dir', path: resolve(dir) }, options);
}

export async function loadAdminToken(storage: Storage): Promise<{ admin: AdminToken; created?: string }> {
  return AdminToken.load(storage, process.env.PACKYARD_ADMIN_TOKEN || undefined);
}
