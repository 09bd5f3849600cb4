import type { ClientPath, Formats } from '../core/format.js';
import type { RepoStore } from '../core/store.js';
import type { PoolEntry } from '../core/snapshot.js';
import { poolEntry } from '../core/pool-set.js';
import type { HasherFactory } from '../util/hash.js';
import { PackyardError } from '../util/errors.js';

/** A `fetch` of a whole request: the app's own (`app.request`) or the network's. */
export type Fetcher = (request: Request) => Promise<Response>;

export type CheckProblem = 'status' | 'size' | 'sha256' | 'redirect' | 'unreachable';

export interface BrokenFile {
  path: string;
  problem: CheckProblem;
  detail: string;
}

export interface CheckResult {
  repo: string;
  snapshot: string;
  ok: boolean;
  /** Client paths requested. */
  checked: number;
  /** Bytes received, all requests together. */
  bytes: number;
  full: boolean;
  startedAt: string;
  ms: number;
  broken: BrokenFile[];
}

export interface CheckOptions {
  /** The app itself: requests to `origin` go here, as a client's would. */
  local: Fetcher;
  /** The origin clients use (`https://pkgs.example.com`): where the walk starts. */
  origin: string;
  /** Sent with requests to `origin` only (a read credential), never to another origin. */
  authorization?: string;
  /** Other origins (where a remote pool file redirects); by default the real `fetch`. */
  remote?: Fetcher;
  /** How long another origin may take to start answering (default 30 s). */
  remoteAnswerMs?: number;
  createHasher: HasherFactory;
  /** Hash every pool file too, not just the indexes. */
  full?: boolean;
  /**
   * Whether a pool file changed since it was recorded, as its source knows (a release asset whose
   * metadata differs from the record): then it is hashed even in a quick check.
   */
  changed?: (path: string, entry: PoolEntry) => boolean | Promise<boolean>;
  concurrency?: number;
}

/** A URL as results and logs show it: without its query, where a signed URL keeps its signature. */
function shown(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

/** As apt: more redirects than this and the file is given up on. */
const MAX_REDIRECTS = 5;

/** What a client path should be: the size and SHA-256 the snapshot says, when it says them. */
interface Expected {
  size?: number;
  sha256?: string;
  /** Download and hash it (indexes always; pool files with `full` or when changed). */
  hash: boolean;
}

/**
 * The heartbeat: walks every client path of the repository's current snapshot (its format's
 * `clientPaths`: `InRelease`/`repomd.xml`, the indexes, every pool file) as a client does, through
 * the app's own HTTP surface and on along redirects, and names each file a client would fail to
 * get: a bad status, a wrong size or SHA-256, a redirect apt refuses, a host it cannot reach.
 */
export async function checkRepo(store: RepoStore, formats: Formats, repo: string, options: CheckOptions): Promise<CheckResult> {
  const started = Date.now();
  const snapshot = await store.current(repo);
  if (!snapshot) throw new PackyardError(404, 'repo-not-found', `no repository "${repo}"`);
  const format = formats.of(snapshot);
  const walker = new Walker(options);
  const base = `${options.origin.replace(/\/+$/, '')}/${encodeURIComponent(repo)}`;

  const seen = new Set<string>();
  const running = new Set<Promise<void>>();
  const limit = Math.max(1, options.concurrency ?? 8);
  for await (const item of format.clientPaths(snapshot, (key) => store.meta(key), { base: () => base })) {
    // A pool file listed in several distributions is one file to a client.
    if (seen.has(item.path)) continue;
    seen.add(item.path);
    // What the snapshot says unreadable (a pool map gone): the answer a client gets tells what is wrong.
    const expected = expectationOf(item).catch((): Expected => ({ hash: false }));
    const task = expected.then((e) => walker.check(item.path, `${base}/${encodePath(item.path)}`, e));
    const done = task.finally(() => running.delete(done));
    running.add(done);
    if (running.size >= limit) await Promise.race(running);
  }
  await Promise.all(running);

  const broken = walker.broken.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { repo, snapshot: snapshot.id, ok: broken.length === 0, checked: seen.size, bytes: walker.bytes, full: !!options.full, startedAt: new Date(started).toISOString(), ms: Date.now() - started, broken };

  async function expectationOf(item: ClientPath): Promise<Expected> {
    switch (item.kind) {
      case 'file':
        return { size: item.entry.size, sha256: item.entry.sha256, hash: true };
      case 'text': {
        const bytes = new TextEncoder().encode(item.body);
        return { size: bytes.length, sha256: await sha256Of(options.createHasher, bytes), hash: true };
      }
      case 'object':
        return { hash: false };
      case 'pool': {
        // No entry: the app answers 404, which the walk reports.
        const entry = await poolEntry(store, snapshot!, item.poolPath);
        if (!entry) return { hash: false };
        const hash = !!options.full || (options.changed !== undefined && (await options.changed(item.path, entry)));
        return { size: entry.size, sha256: entry.sha256, hash };
      }
    }
  }
}

class Walker {
  readonly broken: BrokenFile[] = [];
  bytes = 0;
  private readonly origin: string;
  private readonly remote: Fetcher;

  constructor(private readonly options: CheckOptions) {
    this.origin = new URL(options.origin).origin;
    // Manual: a redirect is followed here, by apt's rules, not by fetch's. A host that does not
    // answer at all is named, not waited for (a body that comes slowly is still read: large files do).
    this.remote =
      options.remote ??
      (async (request) => {
        const ms = options.remoteAnswerMs ?? 30_000;
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(new Error(`no answer within ${ms / 1000} s`)), ms);
        try {
          return await fetch(request, { redirect: 'manual', signal: controller.signal });
        } finally {
          clearTimeout(timer);
        }
      });
  }

  async check(path: string, url: string, expected: Expected): Promise<void> {
    const fail = (problem: CheckProblem, detail: string) => void this.broken.push({ path, problem, detail });
    try {
      const answer = await this.follow(url, 'GET', expected.hash ? undefined : 'bytes=0-0');
      if ('problem' in answer) return fail(answer.problem, answer.detail);
      const { response, where } = answer;
      const after = where === url ? '' : ` at ${shown(where)}`;
      // An empty file has no byte 0: a 416 that gives its size is its answer to the range.
      const empty = !expected.hash && response.status === 416 && totalOf(response.headers.get('content-range')) === 0;
      if (response.status !== 200 && response.status !== 206 && !empty) {
        await response.body?.cancel();
        return fail('status', `HTTP ${response.status}${after}`);
      }
      if (expected.hash) {
        const got = await this.read(response, true);
        if (expected.size !== undefined && got.size !== expected.size) return fail('size', `${got.size} bytes${after}, expected ${expected.size}`);
        const length = response.headers.get('content-length');
        if (length !== null && Number(length) !== got.size) return fail('size', `received ${got.size} bytes${after}, Content-Length said ${length}`);
        if (expected.sha256 && got.sha256 !== expected.sha256) return fail('sha256', `SHA-256 ${got.sha256}${after}, expected ${expected.sha256}`);
        return;
      }
      let size: number | undefined;
      if (response.status === 200) size = await this.sizeOf(response);
      else {
        size = totalOf(response.headers.get('content-range'));
        await this.read(response, false);
      }
      // A partial answer that does not say the total: ask for the size alone.
      if (size === undefined) size = await this.headSize(where);
      if (size === undefined) return fail('size', `no size given${after}`);
      if (expected.size !== undefined && size !== expected.size) fail('size', `${size} bytes${after}, expected ${expected.size}`);
    } catch (err) {
      fail('unreachable', err instanceof Error ? err.message : String(err));
    }
  }

  /**
   * Requests `url`, following redirects as apt does: at most five, never from https to http, and
   * the credential only ever to the app's own origin.
   */
  private async follow(url: string, method: string, range?: string): Promise<{ response: Response; where: string } | { problem: CheckProblem; detail: string }> {
    let where = url;
    for (let hop = 0; ; hop++) {
      const local = new URL(where).origin === this.origin;
      const headers = new Headers();
      if (range) headers.set('range', range);
      if (local && this.options.authorization) headers.set('authorization', this.options.authorization);
      let response: Response;
      try {
        const request = new Request(where, { method, headers, redirect: 'manual' });
        response = await (local ? this.options.local(request) : this.remote(request));
      } catch (err) {
        return { problem: 'unreachable', detail: `${shown(where)}: ${err instanceof Error ? err.message : String(err)}` };
      }
      if (![301, 302, 303, 307, 308].includes(response.status)) return { response, where };
      await response.body?.cancel();
      const location = response.headers.get('location');
      if (!location) return { problem: 'redirect', detail: `HTTP ${response.status} without a Location from ${shown(where)}` };
      const next = new URL(location, where).href;
      if (where.startsWith('https:') && next.startsWith('http:')) return { problem: 'redirect', detail: `from https to http (${shown(next)}): apt refuses it` };
      if (hop + 1 > MAX_REDIRECTS) return { problem: 'redirect', detail: `more than ${MAX_REDIRECTS} redirects (last to ${shown(next)})` };
      where = next;
    }
  }

  /** Reads a body to its end, counting (and with `hash`, hashing) it. */
  private async read(response: Response, hash: boolean): Promise<{ size: number; sha256?: string }> {
    const hasher = hash ? this.options.createHasher(['sha256']) : undefined;
    let size = 0;
    if (response.body) {
      const reader = response.body.getReader();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        size += chunk.value.length;
        this.bytes += chunk.value.length;
        if (hasher) await hasher.update(chunk.value);
      }
    }
    return { size, sha256: hasher ? (await hasher.digest()).sha256 : undefined };
  }

  /** The size of a whole-file answer to a range request: its Content-Length, or the bytes counted. */
  private async sizeOf(response: Response): Promise<number> {
    const length = response.headers.get('content-length');
    if (length !== null && /^\d+$/.test(length)) {
      await response.body?.cancel();
      return Number(length);
    }
    return (await this.read(response, false)).size;
  }

  private async headSize(url: string): Promise<number | undefined> {
    const answer = await this.follow(url, 'HEAD');
    if ('problem' in answer || answer.response.status !== 200) return undefined;
    await answer.response.body?.cancel();
    const length = answer.response.headers.get('content-length');
    return length !== null && /^\d+$/.test(length) ? Number(length) : undefined;
  }
}

/** The total of `Content-Range: bytes 0-0/1234` (or of a 416 for an empty file); undefined when it does not say one. */
function totalOf(header: string | null): number | undefined {
  const match = header ? /^bytes (?:\d+-\d+|\*)\/(\d+)$/.exec(header.trim()) : null;
  return match ? Number(match[1]) : undefined;
}

/** Each segment of a client path percent-encoded, as a client puts it in a URL. */
function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

async function sha256Of(createHasher: HasherFactory, bytes: Uint8Array): Promise<string> {
  const hasher = createHasher(['sha256']);
  await hasher.update(bytes);
  return (await hasher.digest()).sha256;
}
