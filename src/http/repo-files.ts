import type { RepoStore } from '../core/store.js';
import type { Signer } from '../signing/signer.js';
import type { Access } from '../auth/access.js';
import { ObjectServer, type LastModified, type Log, type RequestView, type ResponsePlan } from './serve-object.js';
import { REPO_NAME } from '../core/layout.js';
import { poolEntry } from '../core/pool-set.js';
import type { Snapshot } from '../core/snapshot.js';
import type { Formats } from '../core/format.js';

/** Answers client requests below `/<repo>/`: keys, and whatever the repository's format says a path is. */
export class RepoFiles {
  readonly objects: ObjectServer;

  constructor(
    private readonly store: RepoStore,
    private readonly formats: Formats,
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

    const found = this.formats.of(snapshot).resolve(path, snapshot, { base: () => `${request.origin()}/${repo}` });
    if (!found) return null;
    switch (found.kind) {
      case 'object':
        return this.objects.plan(request, found.key, { etag: found.etag, contentType: found.contentType, immutable: true, private: hidden });
      case 'file':
        return this.objects.plan(request, found.entry.key, { etag: found.entry.sha256, size: found.entry.size, contentType: found.contentType, immutable: false, lastModified: lastModified(snapshot), private: hidden });
      case 'text':
        return textPlan(found.body, found.contentType, hidden);
      case 'pool': {
        const entry = await poolEntry(this.store, snapshot, found.poolPath);
        if (!entry) return null;
        if (entry.remote) return remotePlan(entry.remote.url, hidden);
        return this.objects.plan(request, entry.key, { etag: entry.sha256, size: entry.size, contentType: found.contentType, immutable: true, private: hidden });
      }
    }
  }
}

/**
 * A pool file kept elsewhere (a release asset): the client is sent there. apt and dnf drop their
 * credentials on a redirect to another host, which is what a presigned or public URL wants.
 */
function remotePlan(url: string, hidden: boolean): ResponsePlan {
  // Short-lived: the place (a signed URL) may change with the next publish.
  return { status: 302, headers: { location: url, 'cache-control': `${hidden ? 'private' : 'public'}, max-age=60`, 'content-length': '0' }, body: null };
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
