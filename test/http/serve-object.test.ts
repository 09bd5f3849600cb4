// Serving a file kept only gzipped (FileEntry.encoding): decompressed, whole, from memory when
// small and as a stream when large, and a clear 404 when its object is gone.
import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { MemoryStorage } from '../../src/storage/memory.js';
import { ObjectServer, type RequestView } from '../../src/http/serve-object.js';
import { streamBytes } from '../../src/util/bytes.js';
import { PackyardError } from '../../src/util/errors.js';

const get = (headers: Record<string, string> = {}, method = 'GET'): RequestView => ({ method, client: '127.0.0.1', origin: () => 'http://localhost', header: (name) => headers[name] });

async function stored(text: Buffer, members: number) {
  const storage = new MemoryStorage();
  const step = Math.ceil(text.length / members);
  const parts = Array.from({ length: members }, (_, i) => gzipSync(text.subarray(i * step, (i + 1) * step)));
  await storage.put('gz', Buffer.concat(parts));
  return new ObjectServer(storage);
}

const options = (size: number) => ({ etag: 'e', contentType: 'text/plain', immutable: false, size, gunzip: true });

describe('ObjectServer, a file kept gzipped', () => {
  for (const [what, size, body] of [['small: from memory', 200_000, 'bytes'], ['large: streamed', 6 * 1024 * 1024, 'stream']] as const) {
    it(`serves it decompressed and whole (${what})`, async () => {
      const text = Buffer.from('Package: x\nVersion: 1\n\n'.repeat(Math.ceil(size / 24)).slice(0, size));
      const server = await stored(text, 7);
      for (let round = 0; round < 2; round++) {
        const plan = (await server.plan(get({ range: 'bytes=5-10' }), 'gz', options(text.length)))!;
        expect(plan.status).toBe(200);
        expect(plan.headers['content-length']).toBe(String(text.length));
        expect(plan.headers['accept-ranges']).toBe('none');
        // A small file is cached decompressed: the second answer comes from memory too.
        expect(Object.keys(plan.body!)).toEqual([body]);
        const bytes = 'bytes' in plan.body! ? plan.body.bytes : await streamBytes((plan.body as { stream: ReadableStream<Uint8Array> }).stream);
        expect(Buffer.from(bytes).equals(text)).toBe(true);
      }
      const head = (await server.plan(get({}, 'HEAD'), 'gz', options(text.length)))!;
      expect([head.status, head.headers['content-length'], head.body]).toEqual([200, String(text.length), null]);
      expect((await server.plan(get({ 'if-none-match': '"e"' }), 'gz', options(text.length)))!.status).toBe(304);
    });
  }

  it('answers 404 when the object is gone', async () => {
    const server = new ObjectServer(new MemoryStorage());
    for (const method of ['GET', 'HEAD']) {
      const failed = await server.plan(get({}, method), 'gz', options(10)).catch((err: unknown) => err);
      expect(failed instanceof PackyardError && failed.status, method).toBe(404);
    }
  });
});
