import type { RepoStore } from '../core/store.js';
import { layout } from '../core/layout.js';
import type { Signer } from '../signing/signer.js';
import type { Access } from '../auth/access.js';
import { ObjectServer, type LastModified, type Log, type RequestView, type ResponsePlan } from './serve-object.js';
import { REPO_NAME } from '../core/layout.js';
import { distributionsOf, poolShard, type PoolEntry, type PoolMap, type Snapshot } from '../core/snapshot.js';
import { rpmPoolPath } from '../formats/rpm/publish.js';

const BY_HASH = /^dists\/.+\/by-hash\/(SHA256|SHA512)\/([0-9a-f]{64}|[0-9a-f]{128})$/;

function contentType(path: string): string {
  if (path.endsWith('.deb')) return 'application/vnd.debian.binary-package';
  if (path.endsWith('.gz')) return 'application/gzip';
  if (path.endsWith('.gpg')) return 'application/pgp-signature';
  return 'text/plain; charset=utf-8';
}

/** Answers client requests below `/<repo>/`: keys, indexes (by path or by hash) and pool files. */
export class RepoFiles {
  readonly objects: ObjectServer;

  constructor(
    private readonly store: RepoStore,
    private readonly signer: Signer,
    private readonly access: Access,
    log?: Log,
  ) {
    this.objects = new ObjectServer(store.storage, log);
  }

  /**
   * The plan for a GET or HEAD of a URL path as sent (`/<repo>/<path>`, still percent-encoded);
   * null for anything that is not a file of a repository. Throws 401/403 for a private
   * repository's file without a credential that may read it; the public keys are always public.
   */
  async planUrl(request: RequestView, rawPath: string): Promise<ResponsePlan | null> {
    const slash = rawPath.indexOf('/', 1);
    if (slash < 0) return null;
    const repo = rawPath.slice(1, slash);
    const path = safeDecode(rawPath.slice(slash + 1));
    if (!REPO_NAME.test(repo) || path === null || path.split('/').some((p) => p === '..' || p === '.' || p === '')) return null;
    return this.plan(request, repo, path);
  }

  async plan(request: RequestView, repo: string, path: string): Promise<ResponsePlan | null> {
    if (path === 'public.key') return textPlan(this.signer.publicKeyArmored, 'application/pgp-keys');
    if (path === 'public.gpg') return textPlan(this.signer.publicKeyBinary, 'application/pgp-keys');
    const snapshot = await this.store.current(repo);
    if (!snapshot) return null;
    // Answers to a credential: a shared cache (a proxy, a CDN) must not hand them to anyone else.
    const hidden = !snapshot.settings.public;
    if (hidden) await this.access.require(request, repo, 'read');

    const byHash = BY_HASH.exec(path);
    if (byHash) {
      const [, algorithm, hex] = byHash as unknown as [string, 'SHA256' | 'SHA512', string];
      // The hash is the validator; the object is served whether or not the head still lists it,
      // which is what keeps clients holding an older InRelease working.
      return this.objects.plan(request, layout.byHash(repo, algorithm, hex), { etag: hex, contentType: 'application/octet-stream', immutable: true, private: hidden });
    }

    if (snapshot.type === 'rpm') {
      const rpm = RPM_REPODATA.exec(path) ?? RPM_PACKAGE.exec(path) ?? RPM_REPO_FILE.exec(path);
      if (rpm) return this.rpmPlan(request, snapshot, rpm, hidden);
    }

    const entry = Object.hasOwn(snapshot.files, path) ? snapshot.files[path] : undefined;
    if (entry) return this.objects.plan(request, entry.key, { etag: entry.sha256, size: entry.size, contentType: contentType(path), immutable: false, lastModified: lastModified(snapshot), private: hidden });

    const file = path.startsWith('pool/') ? await this.poolFile(snapshot, path) : undefined;
    return file ? this.objects.plan(request, file.key, { etag: file.sha256, size: file.size, contentType: contentType(path), immutable: true, private: hidden }) : null;
  }

  /** A pool file's entry, from the pool-map shard that holds it. */
  private async poolFile(snapshot: Snapshot, path: string): Promise<PoolEntry | undefined> {
    const shard = poolShard(path);
    if (!Object.hasOwn(snapshot.pool, shard)) return undefined;
    const pool = await this.store.meta<PoolMap>(snapshot.pool[shard]!);
    return Object.hasOwn(pool, path) ? pool[path] : undefined;
  }

  /** Repodata by its checksum-prefixed name (superseded ones too), packages, and the `.repo` file. */
  private async rpmPlan(request: RequestView, snapshot: Snapshot, match: RegExpExecArray, hidden: boolean): Promise<ResponsePlan | null> {
    const repo = snapshot.repo;
    const { hash, dist, letter, file, repoFile } = match.groups!;
    if (hash) return this.objects.plan(request, layout.byHash(repo, 'SHA256', hash), { etag: hash, contentType: 'application/gzip', immutable: true, private: hidden });
    if (repoFile) {
      if (!distributionsOf(snapshot).includes(repoFile)) return null;
      return textPlan(dnfRepoFile(request.origin(), snapshot, repoFile), 'text/plain; charset=utf-8', hidden);
    }
    const entry = await this.poolFile(snapshot, rpmPoolPath(dist!, `Packages/${letter}/${file}`));
    return entry ? this.objects.plan(request, entry.key, { etag: entry.sha256, size: entry.size, contentType: 'application/x-rpm', immutable: true, private: hidden }) : null;
  }
}

const RPM_REPODATA = /^[^/]+\/[^/]+\/repodata\/(?<hash>[0-9a-f]{64})-[a-z_]+\.xml\.gz$/;
const RPM_PACKAGE = /^(?<dist>[^/]+)\/[^/]+\/Packages\/(?<letter>[^/]+)\/(?<file>[^/]+\.rpm)$/;
const RPM_REPO_FILE = /^(?<repoFile>[^/]+)\.repo$/;

/**
 * What a dnf user drops into /etc/yum.repos.d/. dnf checks repomd.xml's signature, and repomd.xml
 * the checksum of every package; packages themselves are as their builders signed them, or not.
 */
function dnfRepoFile(origin: string, snapshot: Snapshot, distribution: string): string {
  const base = `${origin}/${snapshot.repo}`;
  const lines = [
    `[${snapshot.repo}-${distribution}]`,
    `name=${snapshot.repo} ${distribution}`,
    `baseurl=${base}/${distribution}/$basearch`,
    'enabled=1',
    'repo_gpgcheck=1',
    'gpgcheck=0',
    `gpgkey=${base}/public.key`,
  ];
  if (!snapshot.settings.public) lines.push('# private: a read token (packyard token create --repo ' + snapshot.repo + ' --scope read)', 'username=dnf', 'password=<token>');
  return `${lines.join('\n')}\n`;
}

const encoder = new TextEncoder();

/** A small generated file (a key, a `.repo` file), cached for five minutes (by the client alone when `hidden`). */
function textPlan(body: string | Uint8Array, contentType: string, hidden = false): ResponsePlan {
  const bytes = typeof body === 'string' ? encoder.encode(body) : body;
  return { status: 200, headers: { 'content-type': contentType, 'cache-control': `${hidden ? 'private' : 'public'}, max-age=300`, 'content-length': String(bytes.length) }, body: { bytes } };
}

/** Decodes a URL path once; null when it is not valid percent-encoding. */
function safeDecode(path: string): string | null {
  try {
    return decodeURIComponent(path);
  } catch {
    return null;
  }
}

const lastModifiedOf = new WeakMap<Snapshot, LastModified>();

/** A snapshot's files all changed when it was published; worked out once per snapshot. */
function lastModified(snapshot: Snapshot): LastModified {
  let value = lastModifiedOf.get(snapshot);
  if (!value) {
    const seconds = Math.floor(Date.parse(snapshot.createdAt) / 1000);
    const ambiguous = snapshot.parentCreatedAt !== null && Math.floor(Date.parse(snapshot.parentCreatedAt) / 1000) === seconds;
    value = { http: new Date(seconds * 1000).toUTCString(), seconds, ambiguous };
    lastModifiedOf.set(snapshot, value);
  }
  return value;
}
