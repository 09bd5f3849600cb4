import type { RepoStore } from '../core/store.js';
import type { Signer } from '../signing/signer.js';
import type { Access } from '../auth/access.js';
import { ObjectServer, type LastModified, type Log, type RequestView, type ResponsePlan } from './serve-object.js';
import { REPO_NAME } from '../core/layout.js';
import { poolEntry } from '../core/pool-set.js';
import { recentPoolEntry } from '../core/references.js';
import type { Snapshot } from '../core/snapshot.js';
import type { Formats } from '../core/format.js';
import type { RepositoryService } from '../core/service.js';
import type { Delivery, Sources } from '../sources/index.js';
import { PackyardError } from '../util/errors.js';
import { UrlSigner } from './url-signer.js';
import { own } from '../util/own.js';

/** Answers client requests below `/<repo>/`: keys, and whatever the repository's format says a path is. */
export class RepoFiles {
  readonly objects: ObjectServer;

  private readonly store: RepoStore;
  private readonly formats: Formats;
  private readonly signer: Signer;
  private readonly access: Access;
  private readonly sources: Sources;
  private readonly urls: UrlSigner;
  private readonly poolByKey: boolean;

  /** `poolByKey`: the host answers pool files itself (a redirect to the bucket), so none is served from memory. */
  constructor(deps: { service: RepositoryService; signer: Signer; access: Access; sources: Sources; log?: Log; poolByKey?: boolean }) {
    ({ signer: this.signer, access: this.access, sources: this.sources } = deps);
    this.poolByKey = deps.poolByKey ?? false;
    this.urls = new UrlSigner(deps.service.store.storage);
    this.store = deps.service.store;
    this.formats = deps.service.formats;
    this.objects = new ObjectServer(this.store.storage, deps.log);
  }

  /**
   * The plan for a GET or HEAD of a URL path as sent (`/<repo>/<path>`, still percent-encoded);
   * null for anything that is not a file of a repository. Throws 401/403 for a private
   * repository's file without a credential that may read it; the public keys are always public.
   */
  async planUrl(request: RequestView, rawPath: string, query = ''): Promise<ResponsePlan | null> {
    const slash = rawPath.indexOf('/', 1);
    if (slash < 0) return null;
    const repo = rawPath.slice(1, slash);
    const path = safeDecode(rawPath.slice(slash + 1));
    if (!REPO_NAME.test(repo) || path === null || path.split('/').some((p) => p === '..' || p === '.' || p === '')) return null;
    return this.plan(request, repo, path, query);
  }

  /** `query`: the request's query string, which may carry a signature (url-signer.ts) that stands in for credentials. */
  async plan(request: RequestView, repo: string, path: string, query = ''): Promise<ResponsePlan | null> {
    if (path === 'public.key') return textPlan(this.signer.publicKeyArmored, 'application/pgp-keys');
    if (path === 'public.gpg') return textPlan(this.signer.publicKeyBinary, 'application/pgp-keys');
    let snapshot = await this.store.current(repo);
    // A file with a detached signature (repomd.xml, Release, SHA256SUMS) and that signature keep
    // their names from one publish to the next, and a client fetches them in two requests, which
    // may reach two processes (a Worker isolate and the Durable Object that published, two nodes
    // on a bucket). Served from a head up to headTtlMs old, one could answer the previous
    // snapshot's signature beside the other's new file; read fresh, the two disagree only when a
    // publish lands between the client's two requests (dnf makes them 1-6 ms apart). InRelease
    // signs itself and other indexes are fetched by hash: they keep the cached head.
    if (snapshot && signedPair(snapshot.files, path)) snapshot = await this.store.current(repo, { fresh: true });
    if (!snapshot) return null;
    // Answers to a credential: a shared cache (a proxy, a CDN) must not hand them to anyone else.
    const hidden = !snapshot.settings.public;
    if (hidden && !(query.includes('signature=') && (await this.urls.verify(repo, path, query)))) await this.access.require(request, repo, 'read');

    const base = () => `${request.origin()}/${repo}`;
    const found = await this.formats.of(snapshot).resolve(path, snapshot, {
      base,
      signed: async (p) => `${base()}/${p.split('/').map(encodeURIComponent).join('/')}?${await this.urls.sign(repo, p)}`,
      meta: (key) => this.store.meta(key),
      publicKeys: () => this.signer.publicKeys,
      query: () => query,
    });
    if (!found) return null;
    switch (found.kind) {
      case 'object':
        return this.objects.plan(request, found.key, { etag: found.etag, contentType: found.contentType, immutable: true, private: hidden });
      case 'file':
        return this.objects.plan(request, found.entry.key, { etag: found.entry.sha256, size: found.entry.size, contentType: found.contentType, immutable: false, lastModified: lastModified(snapshot), private: hidden, gunzip: found.entry.encoding === 'gzip' });
      case 'text':
        return textPlan(found.body, found.contentType, hidden);
      case 'answer': {
        const bytes = encoder.encode(found.body);
        // Made for this request (signed URLs in it): no cache keeps it.
        // A 204 has no content, so neither its length nor its type.
        if (found.status === 204) return { status: 204, headers: { ...found.headers, 'cache-control': 'no-store' }, body: null };
        return { status: found.status, headers: { ...found.headers, 'content-type': found.contentType, 'cache-control': 'no-store', 'content-length': String(bytes.length) }, body: { bytes } };
      }
      case 'pool': {
        const listed = await poolEntry(this.store, snapshot, found.poolPath);
        const entry = listed ?? (await recentPoolEntry(this.store, snapshot, found.poolPath));
        if (!entry) return null;
        if (entry.remote) return deliveryPlan(await this.sources.deliver({ method: request.method, range: request.header('range') }, snapshot, { ...entry, remote: entry.remote }), entry.sha256, found.contentType, hidden, request.origin().startsWith('https:'));
        // A file only superseded snapshots list may have been collected: no size vouches for it.
        return this.objects.plan(request, entry.key, { etag: entry.sha256, size: listed ? entry.size : undefined, contentType: found.contentType, immutable: true, private: hidden, byKey: this.poolByKey });
      }
    }
  }
}

/**
 * A pool file kept elsewhere (a release asset), as its source delivers it: the client sent there
 * (apt and dnf drop their credentials on a redirect to another host, which is what a signed or
 * public URL wants), or the bytes passed through as the other host sends them.
 */
function deliveryPlan(delivery: Delivery, sha256: string, contentType: string, hidden: boolean, secure: boolean): ResponsePlan {
  const cache = hidden ? 'private' : 'public';
  // apt refuses a redirect from https to http, and dnf follows it silently: never send one.
  if ('redirect' in delivery && secure && !delivery.redirect.startsWith('https:')) throw new PackyardError(502, 'insecure-redirect', 'this file is kept at an http address, and clients reach this server over https: use delivery "proxy", or an https source');
  if ('redirect' in delivery) return { status: 302, headers: { location: delivery.redirect, 'cache-control': `${cache}, max-age=${delivery.maxAge}`, 'content-length': '0' }, body: null };
  const { response } = delivery;
  if (response.status !== 200 && response.status !== 206 && response.status !== 416) {
    void response.body?.cancel();
    throw new PackyardError(502, 'upstream-error', `the host of this file answered ${response.status}`);
  }
  const headers: Record<string, string> = { 'content-type': contentType, etag: `"${sha256}"`, 'accept-ranges': 'bytes', 'cache-control': `${cache}, max-age=300` };
  for (const name of ['content-length', 'content-range']) {
    const value = response.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  return { status: response.status, headers, body: response.body ? { stream: response.body } : null };
}

const encoder = new TextEncoder();

const SIGNATURE = /\.(asc|gpg|sig)$/;

/** Whether `path` is a file of the snapshot with a detached signature beside it, or that signature. */
function signedPair(files: Snapshot['files'], path: string): boolean {
  if (!own(files, path)) return false;
  const signed = path.replace(SIGNATURE, '');
  return signed !== path ? own(files, signed) !== undefined : ['.asc', '.gpg', '.sig'].some((ext) => own(files, path + ext) !== undefined);
}

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
