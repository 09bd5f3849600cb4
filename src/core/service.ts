import { PackyardError } from '../util/errors.js';
import { parseInput } from '../util/input.js';
import { forEachConcurrent } from '../util/concurrency.js';
import type { HasherFactory } from '../util/hash.js';
import { webGzip, type Gunzip, type Gzip } from '../util/codecs/compress.js';
import type { Storage } from '../storage/types.js';
import type { Signer } from '../signing/signer.js';
import { buildSnapshot, type Mutation, type RemoveSpec } from '../formats/deb/publish.js';
import { buildRpmSnapshot } from '../formats/rpm/publish.js';
import type { RpmRecord } from '../formats/rpm/record.js';
import { ingestPackage, ingestStoredPackage } from './ingest.js';
import { packageReading } from './package-reading.js';
import type { PublishContext } from './publish-context.js';
import type { DebRecord } from '../formats/deb/record.js';
import { REPO_NAME } from './layout.js';
import { RepoStore, type StoreOptions } from './store.js';
import { COMPONENT_NAME, DEFAULT_ARCHITECTURES, DISTRIBUTION_NAME, createRepoSchema, updateRepoSchema } from './settings.js';
import { emptySnapshot, type RepoSettings, type RepoType, type Snapshot } from './snapshot.js';
import { packageInfo } from './views.js';
import { Uploads, startUploadSchema, type UploadSession } from './uploads.js';
import type { PartInfo } from '../storage/types.js';

/** A package as stored in a repository's lists, whatever its format. */
export type PackageRecord = DebRecord | RpmRecord;

export interface ServiceDeps {
  headTtlMs?: StoreOptions['headTtlMs'];
  gcTiming?: StoreOptions['gcTiming'];
  storage: Storage;
  signer: Signer;
  createHasher: HasherFactory;
  /** The host's gzip and gunzip, when it has faster ones than the compression streams. */
  gzip?: Gzip;
  gunzip?: Gunzip;
  now?: () => Date;
  /** Part size of resumable uploads (tests use small ones). */
  uploadPartSize?: number;
}

type UploadBody = ReadableStream<Uint8Array> | Uint8Array;

/** A file of an upload: opened here, or ingested somewhere else (a host's worker thread). */
export type UploadFile = { name: string } & (
  | { /** Opens the file (a stream, or bytes for a small file read whole); called once, when its turn comes. */ open(): UploadBody | Promise<UploadBody> }
  | { ingest(repo: string, type: RepoType, component: string): Promise<PackageRecord> }
  | { /** The id of a resumable upload whose parts have all been sent. */ upload: string }
);

export interface UploadOptions {
  distribution: string;
  component: string;
  replace?: boolean;
  actor: string;
  /** Files of an array ingested at once (default 8); a stream of parts is read one by one. */
  concurrency?: number;
}

interface PackageSummary {
  package: string;
  version: string;
  architecture: string;
  distribution: string;
  component: string;
  filename: string;
  size: number;
  sha256: string;
}

/** What clients and the CLI do to repositories: create, upload, remove, list; each change one atomic publish. */
export class RepositoryService {
  readonly store: RepoStore;
  private readonly ctx: PublishContext;
  private readonly uploads: Uploads;
  /**
   * Resumable uploads being published, by repository and id: a second publish of one at the same
   * time (a client retrying a slow join) would join it again over the first.
   */
  private readonly publishing = new Set<string>();

  constructor(readonly deps: ServiceDeps) {
    this.store = new RepoStore(deps.storage, { headTtlMs: deps.headTtlMs, gcTiming: deps.gcTiming });
    this.uploads = new Uploads(deps.storage, deps.uploadPartSize);
    this.ctx = { store: this.store, signer: deps.signer, createHasher: deps.createHasher, gzip: deps.gzip ?? webGzip, gunzip: deps.gunzip, now: deps.now ?? (() => new Date()) };
  }

  async createRepo(input: unknown, actor: string): Promise<Snapshot> {
    const spec = parseInput(createRepoSchema, input);
    checkRepoName(spec.name);
    const settings: RepoSettings = { architectures: spec.architectures ?? DEFAULT_ARCHITECTURES[spec.type], distributions: spec.distributions ?? {}, public: spec.public ?? false };
    const { snapshot } = await this.store.commit(
      spec.name,
      async () => {
        // Declared distributions are published right away, so apt can use them before any upload.
        const base = emptySnapshot(spec.name, spec.type, settings, actor, this.ctx.now());
        const { snapshot: first } = await this.build(spec.name, base, { actor, settings });
        return first ? { ...first, id: base.id, seq: 0, parent: null, parentCreatedAt: null, changes: base.changes } : base;
      },
      { create: true },
    );
    return snapshot;
  }

  async updateRepo(repo: string, input: unknown, actor: string): Promise<Snapshot> {
    const patch = parseInput(updateRepoSchema, input);
    return this.mutate(repo, (current) => ({
      actor,
      settings: {
        architectures: patch.architectures ?? current.settings.architectures,
        distributions: { ...current.settings.distributions, ...patch.distributions },
        public: patch.public ?? current.settings.public ?? false,
      },
    }));
  }

  async getRepo(repo: string): Promise<Snapshot> {
    checkRepoName(repo);
    const head = await this.store.readHead(repo);
    if (!head) throw notFound(repo);
    return head.snapshot;
  }

  listRepos(): Promise<string[]> {
    return this.store.listRepos();
  }

  async deleteRepo(repo: string): Promise<void> {
    checkRepoName(repo);
    await this.store.deleteRepo(repo);
  }

  /** Ingests every file, then publishes them together: all land, or none does. */
  async upload(repo: string, files: AsyncIterable<UploadFile> | readonly UploadFile[], options: UploadOptions): Promise<{ snapshot: Snapshot; changed: boolean; packages: PackageRecord[] }> {
    checkRepoName(repo);
    checkPlacement(options.distribution, options.component);
    const head = await this.store.readHead(repo);
    if (!head) throw notFound(repo);
    const type = head.snapshot.type;
    const records: PackageRecord[] = [];
    let unused: string[] = [];
    // Blobs streamed in are stored from here on (the guard needs a bound on their times).
    const ingestStarted = Date.now();
    // Resumable uploads end with the publish, not at their join, so that one a crash cut short can be redone.
    const claimed: string[] = [];
    const joined = new Map<string, string>();
    let published = false;
    try {
      const ingest = async (file: UploadFile) => {
        try {
          if ('upload' in file) {
            const claim = `${repo}/${file.upload}`;
            if (this.publishing.has(claim)) throw busy();
            this.publishing.add(claim);
            claimed.push(claim);
          }
          records.push(await this.ingest(repo, type, options, file, joined));
        } catch (err) {
          if (err instanceof PackyardError) throw new PackyardError(err.status, err.code, `${file.name}: ${err.message}`);
          throw err;
        }
      };
      // Files at hand are read several at a time (storage latency, not CPU, bounds ingestion);
      // a stream of parts (a multipart body) can only be read in order.
      if (Array.isArray(files)) await forEachConcurrent(files, options.concurrency ?? 8, ingest);
      else for await (const file of files) await ingest(file);
      if (records.length === 0) throw new PackyardError(400, 'no-files', 'the upload contains no package file');
      const { distribution, component, replace, actor } = options;
      const result = await this.store.commit(repo, async (current, guard) => {
        const built =
          type === 'rpm'
            ? await buildRpmSnapshot(this.ctx, repo, current!, { actor, replace, add: (records as RpmRecord[]).map((record) => ({ distribution, record })) })
            : await buildSnapshot(this.ctx, repo, current!, { actor, replace, add: (records as DebRecord[]).map((record) => ({ distribution, component, record })) });
        unused = built.unusedKeys;
        const notUsed = new Set(unused);
        const used = records.map((r) => r.key).filter((key) => !notUsed.has(key));
        // A resumable upload's join may be an earlier, interrupted attempt's, older than this
        // call: the guard reads its time.
        const resumable = new Set(joined.values());
        guard.inputs(used.filter((key) => !resumable.has(key)), ingestStarted);
        guard.inputs(used.filter((key) => resumable.has(key)), 0);
        return built.snapshot;
      });
      published = true;
      return { ...result, packages: records };
    } catch (err) {
      // A resumable upload keeps its joined object, and its session, for the next attempt.
      const kept = new Set(joined.values());
      unused = records.map((r) => r.key).filter((key) => !kept.has(key));
      throw err;
    } finally {
      // Sessions end before blobs go: one left behind by a crash here still finds its object.
      if (published) await Promise.all([...joined.keys()].map((id) => this.uploads.finish(repo, id).catch(() => {})));
      await Promise.all(unused.map((key) => this.deps.storage.delete(key).catch(() => {})));
      for (const claim of claimed) this.publishing.delete(claim);
    }
  }

  /** Reads one file into a record; a resumable upload it joins is added to `joined` (id to key). */
  private async ingest(repo: string, type: RepoType, options: UploadOptions, file: UploadFile, joined: Map<string, string>): Promise<PackageRecord> {
    if ('ingest' in file) return file.ingest(repo, type, options.component);
    const reading = packageReading(type, this.deps, options.component, this.ctx.now);
    if ('open' in file) return ingestPackage(this.deps.storage, repo, await file.open(), reading);
    const { key } = await this.uploads.complete(repo, file.upload);
    try {
      const record = await ingestStoredPackage(this.deps.storage, key, reading);
      joined.set(file.upload, key);
      return record;
    } catch (err) {
      // Not a package: the upload is used up (its session goes first, as in `upload`). A
      // failure of the server's own leaves it for the next attempt.
      if (err instanceof PackyardError && err.status < 500) {
        await this.uploads.finish(repo, file.upload).catch(() => {});
        await this.deps.storage.delete(key).catch(() => {});
      }
      throw err;
    }
  }

  /** Starts a resumable upload of one package file, sent in parts and published by `upload`. */
  async startUpload(repo: string, input: unknown, actor: string): Promise<UploadSession> {
    checkRepoName(repo);
    const spec = parseInput(startUploadSchema, input);
    if (!(await this.store.readHead(repo))) throw notFound(repo);
    return this.uploads.start(repo, spec, actor, this.ctx.now());
  }

  async uploadStatus(repo: string, id: string): Promise<{ session: UploadSession; received: PartInfo[] }> {
    checkRepoName(repo);
    return { session: await this.uploads.get(repo, id), received: await this.uploads.received(repo, id) };
  }

  putUploadPart(repo: string, id: string, part: number, body: ReadableStream<Uint8Array>, size: number | undefined): Promise<PartInfo> {
    checkRepoName(repo);
    return this.uploads.putPart(repo, id, part, body, size);
  }

  abortUpload(repo: string, id: string): Promise<void> {
    checkRepoName(repo);
    // Its parts may be in the middle of being joined.
    if (this.publishing.has(`${repo}/${id}`)) throw busy();
    return this.uploads.abort(repo, id);
  }

  async remove(repo: string, spec: RemoveSpec, actor: string): Promise<Snapshot> {
    checkPlacement(spec.distribution, spec.component ?? 'main');
    return this.mutate(repo, () => ({ actor, remove: [spec] }));
  }

  async listPackages(repo: string, filter: { distribution?: string; q?: string } = {}): Promise<PackageSummary[]> {
    const snapshot = await this.getRepo(repo);
    const out: PackageSummary[] = [];
    const q = filter.q?.toLowerCase();
    for (const [distribution, components] of Object.entries(snapshot.lists)) {
      if (filter.distribution && filter.distribution !== distribution) continue;
      for (const [component, byArch] of Object.entries(components)) {
        for (const key of Object.values(byArch).flatMap((shards) => Object.values(shards))) {
          for (const r of await this.store.meta<PackageRecord[]>(key)) {
            const info = packageInfo(r);
            if (q && !info.package.toLowerCase().includes(q)) continue;
            out.push({ ...info, distribution, component });
          }
        }
      }
    }
    return out;
  }

  /** The snapshot history, newest first, following parent links. */
  async snapshots(repo: string, limit = 50): Promise<Snapshot[]> {
    const out: Snapshot[] = [];
    let next: Snapshot | null = await this.getRepo(repo);
    while (next && out.length < limit) {
      out.push(next);
      next = next.parent ? await this.store.snapshot(repo, next.parent) : null;
    }
    return out;
  }

  private async mutate(repo: string, make: (current: Snapshot) => Mutation): Promise<Snapshot> {
    checkRepoName(repo);
    const { snapshot } = await this.store.commit(repo, async (current) => (await this.build(repo, current!, make(current!))).snapshot);
    return snapshot;
  }

  /** The next snapshot by the repository's format; removals and settings changes alike. */
  private build(repo: string, current: Snapshot, mutation: Mutation): Promise<{ snapshot: Snapshot | null }> {
    if (current.type === 'deb') return buildSnapshot(this.ctx, repo, current, mutation);
    const remove = mutation.remove?.map(({ distribution, package: name, version, architecture: arch }) => ({ distribution, name, version, arch }));
    return buildRpmSnapshot(this.ctx, repo, current, { actor: mutation.actor, settings: mutation.settings, remove });
  }
}

function checkRepoName(name: string): void {
  if (!REPO_NAME.test(name)) throw new PackyardError(400, 'invalid-repo-name', `invalid repository name "${name}": use 1-64 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit`);
}

function checkPlacement(distribution: string, component: string): void {
  if (!DISTRIBUTION_NAME.test(distribution)) throw new PackyardError(400, 'invalid-distribution', `invalid distribution name "${distribution}"`);
  if (!COMPONENT_NAME.test(component)) throw new PackyardError(400, 'invalid-component', `invalid component name "${component}"`);
}

function notFound(repo: string): PackyardError {
  return new PackyardError(404, 'repo-not-found', `repository "${repo}" does not exist`);
}

function busy(): PackyardError {
  return new PackyardError(409, 'upload-busy', 'the upload is being published (by this batch or another)');
}
