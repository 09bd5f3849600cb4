import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import type { ApiClient } from './client.js';

interface Upload {
  id: string;
  partSize: number;
  parts: number;
  received: number[];
}

const ATTEMPTS = 4;

/**
 * Sends one file as a resumable upload: each part is its own request, streamed from disk and
 * retried on failure, so a flaky connection costs a part, not the file. Resolves with the
 * upload's id, which the batch request then names.
 */
export async function sendInParts(client: ApiClient, repo: string, path: string, size: number, onBytes: (n: number) => void): Promise<string> {
  const base = `/api/v1/repos/${encodeURIComponent(repo)}/uploads`;
  const { upload } = (await client.request('POST', base, { json: { name: basename(path), size } })) as { upload: Upload };
  for (let part = 1; part <= upload.parts; part++) {
    const start = (part - 1) * upload.partSize;
    const end = Math.min(start + upload.partSize, size);
    for (let attempt = 1; ; attempt++) {
      let sent = 0;
      const body = Readable.toWeb(createReadStream(path, { start, end: end - 1, highWaterMark: 1024 * 1024 })) as ReadableStream<Uint8Array>;
      const counted = body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            sent += chunk.length;
            onBytes(chunk.length);
            controller.enqueue(chunk);
          },
        }),
      );
      try {
        await client.request('PUT', `${base}/${upload.id}/parts/${part}`, { body: counted, headers: { 'content-type': 'application/octet-stream', 'content-length': String(end - start) } });
        break;
      } catch (err) {
        onBytes(-sent);
        if (attempt >= ATTEMPTS || !retryable(err)) throw err;
        await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
      }
    }
  }
  return upload.id;
}

/** Network failures and server-side errors are worth another try; a 4xx answer is not. */
function retryable(err: unknown): boolean {
  const status = (err as { status?: number }).status;
  return status === undefined || status >= 500 || status === 429;
}
