// A worker thread of the ingest pool (ingest-pool.ts): ingests package files named by path into
// the data directory's storage and answers each message of requests with one of records.
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { ingestPackage } from '../../core/ingest.js';
import { formats } from '../../formats/index.js';
import { PackyardError } from '../../util/errors.js';
import { FsStorage } from './fs-storage.js';
import { createNodeHasher } from './hasher.js';
import { nodeGunzip } from './gzip.js';
import type { IngestReply, IngestRequest } from './ingest-pool.js';

const deps = { storage: new FsStorage(workerData as string), createHasher: createNodeHasher, gunzip: nodeGunzip };
const port = parentPort!;

async function ingest({ id, type, placement, repo, path }: IngestRequest): Promise<IngestReply> {
  try {
    const reading = formats.get(type).reading({ ...deps, now: () => new Date() }, placement);
    // readFileSync gives the file its own buffer (never a pooled one), so no copy is needed.
    return { id, record: await ingestPackage(deps.storage, repo, readFileSync(path), reading) };
  } catch (err) {
    const error = err instanceof PackyardError ? err : new PackyardError(500, 'internal', String((err as Error).stack ?? err));
    return { id, error: { status: error.status, code: error.code, message: error.message } };
  }
}

// Messages are ingested one after another, each answered as soon as it is done: the pool sends
// the next ones while this thread works (interleaved, every message would finish at about the
// same time, and the thread would wait for the pool's next message each time).
const inbox: IngestRequest[][] = [];
let running = false;

async function drain(): Promise<void> {
  running = true;
  for (let requests = inbox.shift(); requests; requests = inbox.shift()) {
    const replies: IngestReply[] = [];
    for (const request of requests) replies.push(await ingest(request));
    port.postMessage(replies);
  }
  running = false;
}

port.on('message', (requests: IngestRequest[]) => {
  inbox.push(requests);
  if (!running) void drain();
});
