import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { PackyardError } from '../../util/errors.js';
import type { PackageRecord } from '../../core/format.js';
import { layout } from '../../core/layout.js';
import { FsStorage } from './fs-storage.js';

export interface IngestRequest {
  id: number;
  /** The repository's format, and the placement it checked (plain data: it travels to a thread). */
  type: string;
  placement: unknown;
  repo: string;
  path: string;
}

/** Requests per message to a worker (the unit it answers in). */
const MESSAGE = 16;

export type IngestReply = { id: number; record: PackageRecord } | { id: number; error: { status: PackyardError['status']; code: string; message: string } };

/**
 * Worker threads that ingest package files from local paths into a data directory, for
 * `packyard add`. Ingesting thousands of small files is mostly system calls (open, read,
 * create, write) and hashing, all synchronous on one thread; spread over the machine's cores
 * the batch lands in a fraction of the time (bench/ingest.mjs). Publishing stays on the caller.
 *
 * Requests made in one turn of the event loop travel to a worker in messages of up to 16, and a
 * worker answers a message with one: waking a thread per file cost more than ingesting a small
 * file. The caller keeps several messages' worth outstanding per worker (`packyard add` 128 files
 * at once), so that a worker never waits for the next message.
 */
export class IngestPool {
  private readonly workers: { thread: Worker; outstanding: number }[];
  private readonly pending = new Map<number, { resolve(record: PackageRecord): void; reject(err: Error): void }>();
  private queued: IngestRequest[] = [];
  private nextId = 0;
  private broken: Error | undefined;
  private readonly storage: FsStorage;
  /** Repositories whose blob folders were made. */
  private readonly prepared = new Set<string>();

  /** Starts one thread per core (at most 4), and no more than there are `files` to ingest. */
  constructor(dataDir: string, files: number) {
    this.storage = new FsStorage(dataDir);
    const script = new URL('./ingest-worker.mjs', import.meta.url);
    this.workers = Array.from({ length: Math.min(availableParallelism(), 4, files) }, () => {
      const thread = new Worker(script, { workerData: dataDir });
      const worker = { thread, outstanding: 0 };
      thread.on('message', (replies: IngestReply[]) => {
        worker.outstanding -= replies.length;
        for (const reply of replies) this.settle(reply);
      });
      thread.on('error', (err) => this.failAll(err));
      return worker;
    });
  }

  ingest(type: string, repo: string, placement: unknown, path: string): Promise<PackageRecord> {
    if (!this.prepared.has(repo)) {
      this.prepared.add(repo);
      // Here, once, while the threads start (this thread would wait for them): otherwise each
      // thread makes the 256 folders as its first writes meet them.
      try {
        this.storage.makeFolders(layout.blobFolders(repo));
      } catch {
        // A full disk, say: the writes make what is missing and report what fails.
      }
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.broken) return reject(this.broken);
      this.pending.set(id, { resolve, reject });
      if (this.queued.length === 0) queueMicrotask(() => this.dispatch());
      this.queued.push({ id, type, placement, repo, path });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.thread.terminate()));
  }

  /** Sends the queued requests, each to the worker with the least work outstanding. */
  private dispatch(): void {
    const batches = new Map<(typeof this.workers)[number], IngestRequest[]>();
    for (const request of this.queued) {
      const worker = this.workers.reduce((a, b) => (b.outstanding < a.outstanding ? b : a));
      worker.outstanding++;
      let batch = batches.get(worker);
      if (!batch) batches.set(worker, (batch = []));
      batch.push(request);
    }
    this.queued = [];
    // In messages of at most MESSAGE requests: a worker answers each as it finishes it, so the
    // next requests reach it while it works on the ones after.
    for (const [worker, requests] of batches) {
      for (let i = 0; i < requests.length; i += MESSAGE) worker.thread.postMessage(requests.slice(i, i + MESSAGE));
    }
  }

  private settle(reply: IngestReply): void {
    const waiter = this.pending.get(reply.id);
    if (!waiter) return;
    this.pending.delete(reply.id);
    if ('record' in reply) waiter.resolve(reply.record);
    else if (reply.error.status === 500) waiter.reject(new Error(reply.error.message));
    else waiter.reject(new PackyardError(reply.error.status, reply.error.code, reply.error.message));
  }

  private failAll(err: Error): void {
    this.broken = err;
    for (const waiter of this.pending.values()) waiter.reject(err);
    this.pending.clear();
  }
}
