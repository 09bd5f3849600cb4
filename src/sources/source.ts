import type { PoolEntry, RemoteObject } from '../core/snapshot.js';

/**
 * The contract a source of packages (GitHub Releases; upstream mirrors next) implements; the
 * registry in src/sources/index.ts lists them. A source's settings live in the repository's
 * snapshots under `settings.source[kind]`, its secrets apart (SourceSecrets); its packages are
 * published through the same atomic snapshots as uploads, as remote pool entries.
 */
export interface Source<S = unknown, K = unknown, R = unknown> {
  /** The key users name it by in `"source": {"<kind>": …}`, and `RemoteObject.source`. */
  readonly kind: string;
  /**
   * Checks settings as a user gives them, over the current ones on a change; splits off the
   * secrets. `fresh`: what the source keeps of the repository (sync state) no longer holds.
   */
  configure(input: unknown, current?: { settings: S; secrets: K }): { settings: S; secrets: K; fresh: boolean };
  /** What the API shows of them: settings, and which secrets are set (never their values). */
  show(settings: S, secrets: K | undefined): object;
  /** Brings the repository up to date with the source: one publish; the report says what changed. */
  sync(repo: string, settings: S, secrets: K | undefined): Promise<R>;
  /** How a client gets the bytes of a pool file this source published (`secrets` read only if needed: this is a hot path). */
  deliver(request: DeliveryRequest, entry: RemotePoolEntry, settings: S | undefined, secrets: () => Promise<K | undefined>): Promise<Delivery>;
  /**
   * Which of its pool files the source now describes otherwise than when they were published (a
   * release asset uploaded again): the heartbeat hashes those whole, not only their sizes.
   */
  changed(repo: string, settings: S, secrets: K | undefined): Promise<(entry: RemotePoolEntry) => boolean>;
  /** Forgets what it keeps of a repository (caches, sync state): it was deleted or its source changed. */
  forget(repo: string): Promise<void>;
}

export type RemotePoolEntry = PoolEntry & { remote: RemoteObject };

export interface DeliveryRequest {
  method: string;
  /** The client's `Range` header. */
  range?: string;
}

/** Where the bytes come from: the client sent elsewhere, or the bytes streamed through. */
export type Delivery =
  | { redirect: string; /** seconds a client may reuse the answer */ maxAge: number }
  | { response: Response };
