// The sources a host serves, and what the API and hosts do with them: repositories created and
// changed with a source (its secrets stored apart), syncs (coalesced per repository), webhook
// deliveries, and the delivery of pool files a source published.
import type { RepositoryService } from '../core/service.js';
import type { Snapshot } from '../core/snapshot.js';
import { PackyardError } from '../util/errors.js';
import { own } from '../util/own.js';
import { SourceSecrets } from './secrets.js';
import type { Delivery, DeliveryRequest, RemotePoolEntry, Source } from './source.js';
import { GitHubSource } from './github/source.js';
import { readWebhook } from './github/webhook.js';
import type { SyncReport } from './github/sync.js';
import type { GitHubSecrets } from './github/settings.js';

export type { SyncReport } from './github/sync.js';
export type { GitHubSourceView } from './github/settings.js';
export type { Delivery, DeliveryRequest, RemotePoolEntry } from './source.js';

export interface SourcesDeps {
  /** Its storage, hasher and gunzip are the sources' too. */
  service: RepositoryService;
  /** For GitHub's API and asset hosts. */
  fetch?: typeof fetch;
  now?: () => number;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnySource = Source<any, any, SyncReport>;

export class Sources {
  readonly secrets: SourceSecrets;
  private readonly kinds: ReadonlyMap<string, AnySource>;
  /** Per repository: the sync running, and one asked for while it ran (it starts when that ends). */
  private readonly running = new Map<string, { current: Promise<SyncReport>; next?: Promise<SyncReport> }>();

  constructor(private readonly deps: SourcesDeps) {
    const { storage, createHasher, gunzip } = deps.service.deps;
    this.secrets = new SourceSecrets(storage);
    const github = new GitHubSource({ ...deps, storage, createHasher, gunzip });
    this.kinds = new Map([[github.kind, github]]);
  }

  /** `POST /repos`: the repository, with its source's settings checked and its secrets stored. */
  async createRepo(input: unknown, actor: string): Promise<Snapshot> {
    const { rest, source } = splitSource(input);
    if (!source) return this.deps.service.createRepo(rest, actor);
    const { kind, settings, secrets } = this.configure(source);
    const snapshot = await this.deps.service.createRepo(rest, actor, { [kind]: settings });
    // Only once the repository is this request's: a name taken already keeps its own secrets.
    await this.secrets.set(snapshot.repo, { [kind]: secrets });
    return snapshot;
  }

  /** `PATCH /repos/<repo>`: `source` given is merged over the current one; `null` takes it away. */
  async updateRepo(repo: string, input: unknown, actor: string): Promise<Snapshot> {
    const { rest, source } = splitSource(input);
    if (source === undefined) return this.deps.service.updateRepo(repo, rest, actor);
    const current = await this.deps.service.getRepo(repo);
    if (source === null) {
      const snapshot = await this.deps.service.updateRepo(repo, rest, actor, null);
      await this.secrets.delete(repo);
      for (const s of this.kinds.values()) await s.forget(repo);
      return snapshot;
    }
    const stored = await this.secrets.get(repo);
    const [kind] = this.sourceKind(source);
    const before = own(current.settings.source ?? {}, kind);
    const { settings, secrets, fresh } = this.configure(source, before ? { settings: before, secrets: own(stored, kind) ?? {} } : undefined);
    // Secrets first: settings that need them are never published without them; put back if the change is refused.
    await this.secrets.set(repo, { [kind]: secrets });
    try {
      const snapshot = await this.deps.service.updateRepo(repo, rest, actor, { [kind]: settings });
      if (fresh || !before) await this.kinds.get(kind)!.forget(repo);
      return snapshot;
    } catch (err) {
      await this.secrets.set(repo, stored);
      throw err;
    }
  }

  async deleteRepo(repo: string): Promise<void> {
    await this.deps.service.deleteRepo(repo);
    await this.secrets.delete(repo);
    for (const s of this.kinds.values()) await s.forget(repo);
  }

  /** What the API shows of a repository's source (secrets: whether each is set), or undefined. */
  async show(snapshot: Snapshot): Promise<Record<string, unknown> | undefined> {
    const source = snapshot.settings.source;
    if (!source) return undefined;
    const stored = await this.secrets.get(snapshot.repo);
    return Object.fromEntries(Object.entries(source).map(([kind, settings]) => [kind, this.kinds.get(kind)?.show(settings, own(stored, kind)) ?? settings]));
  }

  /**
   * Syncs a repository from its source. A sync asked for while one runs starts when that ends
   * (it may have listed the releases before the change that asked), and every caller asking
   * meanwhile shares it.
   */
  sync(repo: string): Promise<SyncReport> {
    const entry = this.running.get(repo);
    if (entry) return (entry.next ??= entry.current.then(noop, noop).then(() => this.run(repo)));
    return this.run(repo);
  }

  private run(repo: string): Promise<SyncReport> {
    const entry = { current: this.syncNow(repo) } as { current: Promise<SyncReport>; next?: Promise<SyncReport> };
    this.running.set(repo, entry);
    const done = () => void (this.running.get(repo) === entry && this.running.delete(repo));
    entry.current.then(done, done);
    return entry.current;
  }

  private async syncNow(repo: string): Promise<SyncReport> {
    const snapshot = await this.deps.service.getRepo(repo);
    const [kind, settings] = this.sourceOf(snapshot);
    return this.kinds.get(kind)!.sync(repo, settings, own(await this.secrets.get(repo), kind));
  }

  /** The repositories that have a source (for periodic syncs). */
  async withSources(): Promise<string[]> {
    const out: string[] = [];
    for (const repo of await this.deps.service.listRepos()) if ((await this.deps.service.store.current(repo))?.settings.source) out.push(repo);
    return out;
  }

  /** `POST /repos/<repo>/github-webhook`: a signed release event syncs the repository. */
  async githubWebhook(repo: string, header: (name: string) => string | undefined, body: Uint8Array): Promise<{ status: 200 | 202; body: Record<string, unknown> }> {
    // An unknown repository answers as one without a secret: strangers learn no names.
    const snapshot = await this.deps.service.getRepo(repo).catch((err: unknown) => {
      if (err instanceof PackyardError && err.status === 404) return undefined;
      throw err;
    });
    const settings = snapshot && (own(snapshot.settings.source ?? {}, 'github') as { repository: string } | undefined);
    const secrets = settings ? (own(await this.secrets.get(repo), 'github') as GitHubSecrets | undefined) : undefined;
    // Unsigned or forged: refused before anything else is said about the repository.
    const event = await readWebhook(secrets?.webhookSecret, header, body);
    if (event.kind === 'ping') return { status: 200, body: { ok: true, event: 'ping' } };
    if (event.kind === 'ignored') return { status: 202, body: { ok: true, ignored: event.reason } };
    // Releases change a repository of package files, tags one whose versions are tags (a Terraform module).
    const byTags = this.deps.service.formats.of(snapshot!).fromSource === 'tags';
    if ((event.event === 'release') === byTags) return { status: 202, body: { ok: true, ignored: `this repository publishes ${byTags ? 'tags' : 'release assets'}; a ${event.event} event changes none` } };
    if (event.repository.toLowerCase() !== settings!.repository.toLowerCase()) return { status: 202, body: { ok: true, ignored: `the event is for ${event.repository}, this repository syncs ${settings!.repository}` } };
    // GitHub gives up on a delivery after 10 s: a sync that takes longer goes on, and the answer says so.
    const syncing = this.sync(repo);
    const waited = new AbortController();
    const timer = setTimeout(() => waited.abort(), WEBHOOK_WAIT_MS);
    const report = await Promise.race([syncing, new Promise<undefined>((resolve) => waited.signal.addEventListener('abort', () => resolve(undefined)))]).finally(() => clearTimeout(timer));
    if (report) return { status: 200, body: { ok: true, event: event.event, action: event.action, report } };
    syncing.catch(() => {});
    return { status: 202, body: { ok: true, event: event.event, action: event.action, syncing: true } };
  }

  /** How a client gets a pool file that a source published. */
  async deliver(request: DeliveryRequest, snapshot: Snapshot, entry: RemotePoolEntry): Promise<Delivery> {
    const source = this.kinds.get(entry.remote.source);
    if (!source) return { redirect: entry.remote.url, maxAge: 60 };
    const settings = own(snapshot.settings.source ?? {}, source.kind);
    return source.deliver(request, entry, settings, async () => (settings ? own(await this.secrets.get(snapshot.repo), source.kind) : undefined));
  }

  /** For the heartbeat: which pool files the repository's source now describes otherwise (undefined: it has none). */
  async changed(snapshot: Snapshot): Promise<((entry: RemotePoolEntry) => boolean) | undefined> {
    if (!snapshot.settings.source) return undefined;
    const [kind, settings] = this.sourceOf(snapshot);
    return this.kinds.get(kind)!.changed(snapshot.repo, settings, own(await this.secrets.get(snapshot.repo), kind));
  }

  private configure(source: Record<string, unknown>, current?: { settings: unknown; secrets: unknown }) {
    const [kind, given] = this.sourceKind(source);
    const { settings, secrets, fresh } = this.kinds.get(kind)!.configure(given, current);
    return { kind, settings: settings as Record<string, unknown>, secrets: secrets as Record<string, unknown>, fresh };
  }

  /** The one source a body names, and its settings as given. */
  private sourceKind(source: Record<string, unknown>): [string, unknown] {
    const keys = Object.keys(source);
    if (keys.length !== 1 || !this.kinds.has(keys[0]!)) throw new PackyardError(400, 'invalid-request', `source: name one source, one of ${[...this.kinds.keys()].join(', ')} (e.g. {"github": {"repository": "owner/name"}})`);
    return [keys[0]!, source[keys[0]!]];
  }

  private sourceOf(snapshot: Snapshot): [string, unknown] {
    const entries = Object.entries(snapshot.settings.source ?? {});
    if (entries.length === 0) throw new PackyardError(400, 'no-source', `repository ${snapshot.repo} has no source to sync from (create it with "source": {"github": …})`);
    const [kind, settings] = entries[0]!;
    if (!this.kinds.has(kind)) throw new PackyardError(500, 'unknown-source', `repository ${snapshot.repo} syncs from a "${kind}" source, which this Packyard does not know: upgrade Packyard`);
    return [kind, settings];
  }
}

/** The body without `source`, and `source` itself (undefined: not given). */
function splitSource(input: unknown): { rest: unknown; source: Record<string, unknown> | null | undefined } {
  if (!input || typeof input !== 'object' || Array.isArray(input) || !('source' in input)) return { rest: input, source: undefined };
  const { source, ...rest } = input as { source: unknown };
  if (source !== null && (typeof source !== 'object' || Array.isArray(source))) throw new PackyardError(400, 'invalid-request', 'source: must be an object such as {"github": {...}}, or null');
  return { rest, source: source as Record<string, unknown> | null };
}

const noop = () => {};

/** How long a webhook delivery waits for its sync before it is answered (GitHub waits 10 s). */
const WEBHOOK_WAIT_MS = 8000;
