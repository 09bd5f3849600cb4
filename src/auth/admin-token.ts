import { constantTimeEqual, sha256Hex, toHex } from '../util/hash.js';
import { readJson, type Storage } from '../storage/types.js';
import { authLayout } from './storage-keys.js';

interface StoredToken {
  sha256: string;
  createdAt: string;
}

/**
 * The server-wide admin token. Only its SHA-256 is kept; a token set in the environment
 * (`PACKYARD_ADMIN_TOKEN`) takes precedence over the stored one.
 */
export class AdminToken {
  private constructor(private readonly hash: string) {}

  /** Loads the admin token, generating and storing one if there is none; `created` is shown once. */
  static async load(storage: Storage, fromEnv?: string): Promise<{ admin: AdminToken; created?: string }> {
    if (fromEnv) return { admin: new AdminToken(await sha256Hex(fromEnv)) };
    const stored = await readJson<StoredToken>(storage, authLayout.adminToken);
    if (stored) return { admin: new AdminToken(stored.sha256) };
    const token = `pky_${toHex(crypto.getRandomValues(new Uint8Array(24)))}`;
    const record: StoredToken = { sha256: await sha256Hex(token), createdAt: new Date().toISOString() };
    const written = await storage.put(authLayout.adminToken, JSON.stringify(record), { ifNoneMatch: '*' });
    // Another process created one first: use theirs; ours was never valid.
    if (!written) return AdminToken.load(storage);
    return { admin: new AdminToken(record.sha256), created: token };
  }

  async verify(token: string): Promise<boolean> {
    const hash = await sha256Hex(token);
    return constantTimeEqual(this.hash, hash);
  }
}
