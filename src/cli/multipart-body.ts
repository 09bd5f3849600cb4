import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * A `multipart/form-data` body read from files as it is sent, so a batch of large packages is
 * never held in memory; `onBytes` reports progress. `uploads` names resumable uploads (already
 * sent in parts) that belong to the same batch.
 */
export async function multipartFromFiles(paths: string[], onBytes: (n: number) => void, uploads: string[] = []): Promise<{ body: ReadableStream<Uint8Array>; contentType: string; length: number }> {
  const boundary = `packyard-${randomBytes(12).toString('hex')}`;
  const encoder = new TextEncoder();
  const fields = encoder.encode(uploads.map((id) => `--${boundary}\r\nContent-Disposition: form-data; name="upload"\r\n\r\n${id}\r\n`).join(''));
  const heads = paths.map((p) => encoder.encode(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${basename(p).replace(/["\r\n]/g, '_')}"\r\nContent-Type: application/vnd.debian.binary-package\r\n\r\n`));
  const tail = encoder.encode(`--${boundary}--\r\n`);
  const sizes = await Promise.all(paths.map(async (p) => (await stat(p)).size));
  const length = fields.length + heads.reduce((n, h, i) => n + h.length + sizes[i]! + 2, 0) + tail.length;

  async function* chunks(): AsyncGenerator<Uint8Array> {
    yield fields;
    for (let i = 0; i < paths.length; i++) {
      yield heads[i]!;
      const file = await open(paths[i]!, 'r');
      try {
        for await (const chunk of file.createReadStream({ highWaterMark: 1024 * 1024 })) {
          onBytes((chunk as Buffer).length);
          yield new Uint8Array(chunk as Buffer);
        }
      } finally {
        await file.close();
      }
      yield encoder.encode('\r\n');
    }
    yield tail;
  }
  const iterator = chunks();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await iterator.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel() {
      await iterator.return(undefined);
    },
  });
  return { body, contentType: `multipart/form-data; boundary=${boundary}`, length };
}
