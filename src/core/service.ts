import { PackyardError } from '../util/errors.js';
import { parseInput } from '../util/input.js';
import { forEachConcurrent } from '../util/concurrency.js';
import type { HasherFactory } from '../util/hash.js';
import { webGzip, type Gunzip, type Gzip } from '../util/codecs/compress.js';
import type { Storage } from '../storage/types.js';
import type { Signer } from '../signing/signer.js';
import { ingestPackage, ingestStoredPackage } from './ingest.js';
import type { PublishContext } from './publish-context.js';
import { REPO_NAME } from './layout.js';
import { RepoStore, type StoreOptions } from './store.js';
import { createRepoSchema, updateRepoSchema } from './settings.js';
import { checkDistribution } from './distribution-check.js';
import { checkRetention } from './retention.js';
import { distributionsOf, emptySnapshot, type RepoSettings, type Snapshot, type SourceSettings } from './snapshot.js';
import { buildSnapshot, type Mutation } from './publish.js';
import { listShards } from './package-lists.js';
import type { AnyFormat, Coordinates, Formats, PackageInfo, PackageRecord } from './format.js';
import { Uploads, startUploadSchema, type UploadSession } from './uploads.js';
import type { PartInfo } from '../storage/types.js';

export interface ServiceDeps {
  /** The package formats served (src/formats/index.ts). */
  formats: Formats;
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
  | { /** `placement`: as the repository's format checked it. */ ingest(repo: string, type: string, placement: unknown): Promise<PackageRecord> }
  | { /** The id of a resumable upload whose parts have all been sent. */ upload: string }
);

/** Where a package goes, by the repository's format: Debian's distribution and component, RPM's distribution. */
export interface UploadOptions {
  distribution?: string;
  component?: string;
  /** Where it goes in a format's own words (a Terraform module's name, system and version), instead of the two above. */
  coordinates?: Coordinates;
  replace?: boolean;
  /** Publish into a distribution (or component) the repository does not have yet (checkDistribution). */
  createDistribution?: boolean;
  actor: string;
  /** Files of an array ingested at once (default 8); a stream of parts is read one by one. */
  concurrency?: number;
}

interface PackageSummary extends PackageInfo {
  distribution: string;
  component: string;
}

/** A package to remove, and where from (Debian: one component, or all when none is named). */
export interface RemoveSpec {
  distribution: string;
  component?: string;
  package: string;
  version: string;
  architecture: string;
}

/** What clients and the CLI do to repositories: create, upload, remove, list; each change one atomic publish. */
export class RepositoryService {
  readonly store: RepoStore;
  readonly formats: Formats;
  /** What publishes need (copy and rollback build their snapshots with it too). */
  readonly ctx: PublishContext;
  private readonly uploads: Uploads;
  /**
   * Resumable uploads being published, by repository and id: a second publish of one at the same
   * time (a client retrying a slow join) would join it again over the first.
   */
  private readonly publishing = new Set<string>();

  constructor(readonly deps: ServiceDeps) {
    this.formats = deps.formats;
    this.store = new RepoStore(deps.storage, { headTtlMs: deps.headTtlMs, gcTiming: deps.gcTiming });
    this.uploads = new Uploads(deps.storage, deps.uploadPartSize);
    this.ctx = { store: this.store, signer: deps.signer, createHasher: deps.createHasher, gzip: deps.gzip ?? webGzip, gunzip: deps.gunzip, now: deps.now ?? (() => new Date()) };
  }

  /** `source`: settings already checked by the source they name (src/sources), never taken from `input`. */
  async createRepo(input: unknown, actor: string, source?: SourceSettings): Promise<Snapshot> {
    const given = (input as { type?: unknown } | null)?.type;
    const format = this.formats.get(typeof given === 'string' ? given : this.formats.defaultType);
    const spec = parseInput(createRepoSchema(format.distributionSettings), { type: format.type, ...(input as object) });
    checkRepoName(spec.name);
    const settings: RepoSettings = {
      architectures: spec.architectures ?? [...format.defaultArchitectures],
      distributions: spec.distributions ?? {},
      public: spec.public ?? false,
      ...(source ? { source } : {}),
      ...(spec.retention ? { retention: spec.retention } : {}),
    };
    checkRetention(format, settings);
    const empty = emptySnapshot(spec.name, format.type, { ...settings, distributions: {} }, actor, this.ctx.now());
    for (const distribution of Object.keys(settings.distributions)) format.placement({ distribution }, empty);
    const { snapshot } = await this.store.commit(
      spec.name,
      async () => {
        // Declared distributions are published right away, so apt can use them before any upload.
        const base = emptySnapshot(spec.name, spec.type, settings, actor, this.ctx.now());
        const { snapshot: first } = await buildSnapshot(this.ctx, format, base, { actor, settings });
        return first ? { ...first, id: base.id, seq: 0, parent: null, parentCreatedAt: null, changes: base.changes } : base;
      },
      { create: true },
    );
    return snapshot;
  }

  /** `source`: as for `createRepo`; null takes the source away, undefined keeps it. */
  async updateRepo(repo: string, input: unknown, actor: string, source?: SourceSettings | null): Promise<Snapshot> {
    const current = await this.getRepo(repo);
    const format = this.formats.of(current);
    const patch = parseInput(updateRepoSchema(format.distributionSettings), input);
    for (const distribution of Object.keys(patch.distributions ?? {})) format.placement({ distribution }, current);
    return this.mutate(repo, (current) => {
      const kept = source === undefined ? current.settings.source : (source ?? undefined);
      const retention = patch.retention === null ? undefined : (patch.retention ?? current.settings.retention);
      const settings: RepoSettings = {
        architectures: patch.architectures ?? current.settings.architectures,
        distributions: { ...current.settings.distributions, ...patch.distributions },
        public: patch.public ?? current.settings.public ?? false,
        ...(kept ? { source: kept } : {}),
        ...(retention ? { retention } : {}),
      };
      checkRetention(format, settings);
      return { actor, settings };
    });
  }

  /** Takes a distribution out in one publish: its packages (pool references dropped), files and settings. */
  async removeDistribution(repo: string, distribution: string, actor: string): Promise<Snapshot> {
    return this.mutate(repo, (current) => {
      // A format without distributions is refused as such by the publish.
      if (this.formats.of(current).dropDistribution && !distributionsOf(current).includes(distribution)) throw new PackyardError(404, 'distribution-not-found', `repository ${repo} has no distribution "${distribution}"`);
      const distributions = { ...current.settings.distributions };
      delete distributions[distribution];
      return { actor, dropDistributions: [distribution], settings: { ...current.settings, distributions } };
    });
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
  async upload(repo: string, files: AsyncIterable<UploadFile> | readonly UploadFile[], options: UploadOptions): Promise<{ snapshot: Snapshot; changed: boolean; retries: number; packages: PackageInfo[] }> {
    checkRepoName(repo);
    const head = await this.store.readHead(repo);
    if (!head) throw notFound(repo);
    const format = this.formats.of(head.snapshot);
    const placement: unknown = format.placement(options.coordinates ?? { distribution: options.distribution, component: options.component }, head.snapshot);
    const create = { create: options.createDistribution };
    // Before anything is stored, and again on the head the publish builds on.
    checkDistribution(head.snapshot, format, placement, create);
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
          records.push(await this.ingest(repo, format, placement, file, joined));
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
      const { replace, actor } = options;
      const result = await this.store.commit(repo, async (current, guard) => {
        checkDistribution(current!, format, placement, create);
        const built = await buildSnapshot(this.ctx, format, current!, { actor, replace, add: [{ placement, records }] });
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
      return { ...result, packages: records.map((r) => format.describe(r)) };
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
  private async ingest(repo: string, format: AnyFormat, placement: unknown, file: UploadFile, joined: Map<string, string>): Promise<PackageRecord> {
    if ('ingest' in file) return file.ingest(repo, format.type, placement);
    const reading = format.reading({ createHasher: this.deps.createHasher, gunzip: this.deps.gunzip, now: this.ctx.now }, placement);
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
    const { distribution, component, ...name } = spec;
    return this.mutate(repo, () => ({ actor, remove: [{ coordinates: { distribution, component }, ...name }] }));
  }

  async listPackages(repo: string, filter: { distribution?: string; q?: string } = {}): Promise<PackageSummary[]> {
    const snapshot = await this.getRepo(repo);
    const out: PackageSummary[] = [];
    const q = filter.q?.toLowerCase();
    const format = this.formats.of(snapshot);
    for (const [{ distribution, component }, key] of listShards(snapshot.lists)) {
      if (filter.distribution && filter.distribution !== distribution) continue;
      for (const r of await this.store.meta<PackageRecord[]>(key)) {
        const info = format.describe(r);
        if (q && !info.package.toLowerCase().includes(q)) continue;
        out.push({ ...info, distribution, component });
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

  /**
   * Publishes what `make` says to change (a source's sync): made again from the head if another
   * publish lands first. `changed` is false when it changes nothing (no snapshot is written).
   */
  async publish(repo: string, make: (current: Snapshot) => Mutation | Promise<Mutation>): Promise<{ snapshot: Snapshot; changed: boolean }> {
    checkRepoName(repo);
    return this.store.commit(repo, async (current) => {
      if (!current) throw notFound(repo);
      return (await buildSnapshot(this.ctx, this.formats.of(current), current, await make(current))).snapshot;
    });
  }

  private async mutate(repo: string, make: (current: Snapshot) => Mutation): Promise<Snapshot> {
    return (await this.publish(repo, make)).snapshot;
  }
}

function checkRepoName(name: string): void {
  if (!REPO_NAME.test(name)) throw new PackyardError(400, 'invalid-repo-name', `invalid repository name "${name}": use 1-64 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit`);
}

function notFound(repo: string): PackyardError {
  return new PackyardError(404, 'repo-not-found', `repository "${repo}" does not exist`);
}

function busy(): PackyardError {
  return new PackyardError(409, 'upload-busy', 'the upload is being published (by this batch or another)');
}
