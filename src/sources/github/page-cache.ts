import { readJson, type Storage } from '../../storage/types.js';
import type { CachedPage, PageCache } from './client.js';

const SCHEMA = 1;
/** Pages kept: a repository with more than 5,000 releases lists some pages at full cost. */
const MAX_PAGES = 50;

interface StoredPages {
  schema: number;
  pages: Record<string, CachedPage>;
}

/**
 * The listing's pages (ETag, body) as the last sync saw them, kept in storage: a sync in a new
 * process (the CLI, another Worker isolate, a restarted server) asks with the same ETags and
 * gets free 304s. Loaded once per sync and saved only when a page changed.
 */
export class StoredPageCache implements PageCache {
  private dirty = false;

  private constructor(
    private readonly storage: Storage,
    private readonly key: string,
    private readonly pages: Map<string, CachedPage>,
  ) {}

  static async load(storage: Storage, key: string): Promise<StoredPageCache> {
    const stored = await readJson<StoredPages>(storage, key).catch(() => null);
    // A newer build's state is only a cache: ignored, and the listing asked for in full.
    const pages = stored && stored.schema === SCHEMA ? Object.entries(stored.pages) : [];
    return new StoredPageCache(storage, key, new Map(pages));
  }

  get(url: string): CachedPage | undefined {
    return this.pages.get(url);
  }

  set(url: string, page: CachedPage): void {
    this.pages.delete(url);
    this.pages.set(url, page);
    while (this.pages.size > MAX_PAGES) this.pages.delete(this.pages.keys().next().value!);
    this.dirty = true;
  }

  async save(): Promise<void> {
    if (!this.dirty) return;
    await this.storage.put(this.key, JSON.stringify({ schema: SCHEMA, pages: Object.fromEntries(this.pages) } satisfies StoredPages));
    this.dirty = false;
  }
}
