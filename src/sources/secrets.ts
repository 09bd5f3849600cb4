import { readJson, type Storage } from '../storage/types.js';
import { PackyardError } from '../util/errors.js';
import { sourcesLayout } from './storage-keys.js';

/** Versioned, as everything stored is. */
const SCHEMA = 1;

interface StoredSecrets {
  schema: number;
  /** By source kind (`github`). */
  secrets: Record<string, unknown>;
}

/**
 * The secrets of repositories' sources, kept like the signing keys: in storage, outside the
 * snapshots (which readers may see), never sent back by the API. Read at most once a minute per
 * process: a Worker isolate answering redirects must not read storage on every request.
 */
export class SourceSecrets {
  private readonly cache = new Map<string, { value: Record<string, unknown>; until: number }>();

  constructor(
    private readonly storage: Storage,
    private readonly ttlMs = 60_000,
  ) {}

  async get(repo: string): Promise<Record<string, unknown>> {
    const hit = this.cache.get(repo);
    if (hit && hit.until > Date.now()) return hit.value;
    const stored = await readJson<StoredSecrets>(this.storage, sourcesLayout.secrets(repo));
    if (stored && stored.schema > SCHEMA) throw new PackyardError(500, 'newer-schema', `${sourcesLayout.secrets(repo)} has schema ${stored.schema}; this Packyard reads up to ${SCHEMA}: upgrade Packyard`);
    const value = stored?.secrets ?? {};
    this.cache.set(repo, { value, until: Date.now() + this.ttlMs });
    return value;
  }

  async set(repo: string, secrets: Record<string, unknown>): Promise<void> {
    const key = sourcesLayout.secrets(repo);
    if (Object.values(secrets).every((s) => s === undefined || Object.keys(s as object).length === 0)) await this.storage.delete(key);
    else await this.storage.put(key, JSON.stringify({ schema: SCHEMA, secrets } satisfies StoredSecrets));
    this.cache.delete(repo);
  }

  async delete(repo: string): Promise<void> {
    await this.storage.delete(sourcesLayout.secrets(repo));
    this.cache.delete(repo);
  }
}
