import { resolve } from 'node:path';
import { formats } from '../../formats/index.js';
import { mkdir } from 'node:fs/promises';
import { FsStorage } from './fs-storage.js';
import { createNodeHasher } from './hasher.js';
import { nodeGunzip, nodeGzip } from './gzip.js';
import { Keyring } from '../../signing/keyring.js';
import { RepositoryService } from '../../core/service.js';
import { AdminToken } from '../../auth/admin-token.js';
import type { Signer } from '../../signing/signer.js';
import { Sources } from '../../sources/index.js';

export interface Runtime {
  dataDir: string;
  storage: FsStorage;
  keyring: Keyring;
  signer: Signer;
  service: RepositoryService;
  sources: Sources;
  /** Set when this start generated the first signing key. */
  generatedKey?: string;
}

/** Everything Packyard needs, over a local data directory. */
export async function openDataDir(dir: string, options: { headTtlMs?: number } = {}): Promise<Runtime> {
  const dataDir = resolve(dir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const storage = new FsStorage(dataDir);
  const keyring = new Keyring(storage);
  const algorithm = process.env.PACKYARD_KEY_ALGORITHM === 'rsa4096' ? 'rsa4096' : 'ed25519';
  const { signer, generated } = await keyring.signer('Packyard repository signing key', algorithm);
  const service = new RepositoryService({ formats, storage, signer, createHasher: createNodeHasher, gzip: nodeGzip, gunzip: nodeGunzip, headTtlMs: options.headTtlMs });
  return { dataDir, storage, keyring, signer, service, sources: new Sources({ service }), generatedKey: generated };
}

export async function loadAdminToken(storage: FsStorage): Promise<{ admin: AdminToken; created?: string }> {
  return AdminToken.load(storage, process.env.PACKYARD_ADMIN_TOKEN || undefined);
}
