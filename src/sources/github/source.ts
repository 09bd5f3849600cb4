import type { RepositoryService } from '../../core/service.js';
import type { Storage } from '../../storage/types.js';
import { readJson } from '../../storage/types.js';
import type { HasherFactory } from '../../util/hash.js';
import { sha256Hex } from '../../util/hash.js';
import type { Gunzip } from '../../util/codecs/compress.js';
import { Lru } from '../../util/lru.js';
import { PackyardError } from '../../util/errors.js';
import type { Delivery, DeliveryRequest, RemotePoolEntry, Source } from '../source.js';
import { sourcesLayout } from '../storage-keys.js';
import { GitHubClient, assetSha256, type InstallationToken, type TokenCache } from './client.js';
import { asPackyardError } from './errors.js';
import { StoredPageCache } from './page-cache.js';
import { configureGitHub, credentialsOf, showGitHub, type GitHubSecrets, type GitHubSettings } from './settings.js';
import { assetRef, syncGitHub, type SyncReport } from './sync.js';
import { tagRef, type TagRef } from './tags.js';

export interface GitHubSourceDeps {
  service: RepositoryService;
  storage: Storage;
  createHasher: HasherFactory;
  gunzip?: Gunzip;
  fetch?: typeof fetch;
  /** ms since the epoch. */
  now?: () => number;
}

/** Packages kept in a GitHub repository's releases. */
export class GitHubSource implements Source<GitHubSettings, GitHubSecrets, SyncReport> {
  readonly kind = 'github';
  /** Clients for delivery, one per repository and credentials: they keep signed asset URLs. */
  private readonly clients = new Lru<string, GitHubClient>(256);
  private readonly tokens: TokenCache;

  constructor(private readonly deps: GitHubSourceDeps) {
    this.tokens = storedTokenCache(deps.storage);
  }

  configure(input: unknown, current?: { settings: GitHubSettings; secrets: GitHubSecrets }) {
    return configureGitHub(input, current);
  }

  show(settings: GitHubSettings, secrets: GitHubSecrets | undefined) {
    return showGitHub(settings, secrets);
  }

  async sync(repo: string, settings: GitHubSettings, secrets: GitHubSecrets | undefined): Promise<SyncReport> {
    const pageCache = await StoredPageCache.load(this.deps.storage, sourcesLayout.state(repo));
    const client = this.client(settings, secrets, pageCache);
    const report = await syncGitHub({ service: this.deps.service, client, createHasher: this.deps.createHasher, gunzip: this.deps.gunzip, now: () => new Date(this.now()) }, repo, settings).catch((err: unknown) => {
      throw asPackyardError(err);
    });
    // Only a cache: a sync that published is not a failure because it could not be kept.
    await pageCache.save().catch(() => {});
    return report;
  }

  async deliver(request: DeliveryRequest, entry: RemotePoolEntry, settings: GitHubSettings | undefined, secrets: () => Promise<GitHubSecrets | undefined>): Promise<Delivery> {
    const tag = tagRef(entry);
    if (tag) return this.deliverTarball(request, entry, tag, settings, secrets);
    const ref = assetRef(entry)!;
    const asset = { id: ref.asset, url: ref.api, browser_download_url: entry.remote.url };
    // A public asset's own address needs no call to GitHub (no rate limit, no latency).
    if (!ref.private && settings?.delivery !== 'proxy') return { redirect: entry.remote.url, maxAge: 300 };
    if (!settings) throw new PackyardError(502, 'source-removed', 'this file is a private GitHub release asset, and the repository no longer has its GitHub source');
    // A HEAD through the proxy is answered from the pool entry: nothing to fetch.
    if (settings.delivery === 'proxy' && request.method === 'HEAD') return { response: new Response(null, { status: 200, headers: { 'content-length': String(entry.size) } }) };
    const client = this.deliveryClient(settings, await secrets());
    try {
      const signed = ref.private ? await client.assetUrl(asset, { private: true }) : entry.remote.url;
      // The signed URL lives about five minutes: the client may reuse the redirect for one.
      if (settings.delivery === 'redirect') return { redirect: signed, maxAge: 60 };
      let response = await client.fetchAsset(signed, request.range);
      if (response.status === 403 && ref.private) {
        // Expired between the two: ask for a fresh one, once.
        await response.body?.cancel();
        client.forgetAssetUrl(asset);
        response = await client.fetchAsset(await client.assetUrl(asset, { private: true }), request.range);
      }
      return { response };
    } catch (err) {
      throw asPackyardError(err);
    }
  }

  /** A tag's tarball: always through Packyard, fetched with the server's credentials (the token never leaves it). */
  private async deliverTarball(request: DeliveryRequest, entry: RemotePoolEntry, tag: TagRef, settings: GitHubSettings | undefined, secrets: () => Promise<GitHubSecrets | undefined>): Promise<Delivery> {
    if (request.method === 'HEAD') return { response: new Response(null, { status: 200, headers: { 'content-length': String(entry.size) } }) };
    if (!settings) throw new PackyardError(502, 'source-removed', 'this module version is a GitHub tag\'s tarball, and the repository no longer has its GitHub source');
    const client = this.deliveryClient(settings, await secrets());
    const asset = { id: 0, url: entry.remote.url, browser_download_url: entry.remote.url };
    try {
      return { response: await client.fetchAsset(await client.assetUrl(asset, { private: tag.private || undefined }), request.range) };
    } catch (err) {
      throw asPackyardError(err);
    }
  }

  async changed(repo: string, settings: GitHubSettings, secrets: GitHubSecrets | undefined): Promise<(entry: RemotePoolEntry) => boolean> {
    const pageCache = await StoredPageCache.load(this.deps.storage, sourcesLayout.state(repo));
    const { releases } = await this.client(settings, secrets, pageCache).listReleases(settings.repository).catch((err: unknown) => {
      throw asPackyardError(err);
    });
    await pageCache.save().catch(() => {});
    const assets = new Map(releases.flatMap((r) => r.assets.map((a) => [a.id, a] as const)));
    return (entry) => {
      const ref = assetRef(entry);
      // A tag's tarball is made by GitHub on request: its bytes are not a fixed file to compare.
      if (!ref || tagRef(entry)) return false;
      const now = assets.get(ref.asset);
      const digest = now && assetSha256(now);
      return !now || now.size !== entry.size || (now.updated_at ?? null) !== ref.updatedAt || (digest !== undefined && digest !== entry.sha256);
    };
  }

  async forget(repo: string): Promise<void> {
    await this.deps.storage.delete(sourcesLayout.state(repo));
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private client(settings: GitHubSettings, secrets: GitHubSecrets | undefined, pageCache?: StoredPageCache): GitHubClient {
    return new GitHubClient({ apiUrl: settings.apiUrl, credentials: credentialsOf(secrets), fetch: this.deps.fetch, now: () => this.now(), pageCache, tokenCache: this.tokens });
  }

  private deliveryClient(settings: GitHubSettings, secrets: GitHubSecrets | undefined): GitHubClient {
    const key = JSON.stringify([settings.apiUrl, settings.repository, credentialsOf(secrets) ?? null]);
    let client = this.clients.get(key);
    if (!client) this.clients.set(key, (client = this.client(settings, secrets)));
    return client;
  }
}

/**
 * Installation tokens kept in storage as well as memory, so every process and Worker isolate
 * shares one for its hour instead of each exchanging its own.
 */
function storedTokenCache(storage: Storage): TokenCache {
  const memory = new Map<string, InstallationToken>();
  const keyOf = async (key: string) => sourcesLayout.installationToken(await sha256Hex(key));
  return {
    async get(key) {
      const hit = memory.get(key);
      if (hit) return hit;
      const stored = await readJson<InstallationToken>(storage, await keyOf(key)).catch(() => null);
      if (stored) memory.set(key, stored);
      return stored ?? undefined;
    },
    async set(key, value) {
      memory.set(key, value);
      await storage.put(await keyOf(key), JSON.stringify(value));
    },
    async delete(key) {
      memory.delete(key);
      await storage.delete(await keyOf(key));
    },
  };
}
