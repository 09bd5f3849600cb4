import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { gunzipStream } from '../../../src/util/codecs/gunzip-stream.js';
import { concatBytes, streamBytes } from '../../../src/util/bytes.js';

/** `bytes` as a stream of chunks of `size` bytes. */
function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(at, (at += size)));
    },
  });
}

describe('gunzipStream', () => {
  it('decompresses every member of a multi-member gzip, whatever the chunking', async () => {
    const texts = [randomBytes(300_000), new TextEncoder().encode('Package: a\n'.repeat(50_000)), randomBytes(1)];
    const gz = concatBytes(texts.map((t) => new Uint8Array(gzipSync(t))));
    for (const size of [13, 4096, 65_536, gz.length]) {
      const out = await streamBytes(chunked(gz, size).pipeThrough(gunzipStream(concatBytes(texts).length)));
      expect(Buffer.from(out).equals(Buffer.from(concatBytes(texts))), `chunks of ${size}`).toBe(true);
    }
  });

  it('fails the stream on a truncated, corrupt or other-sized input instead of ending it short', async () => {
    const text = randomBytes(100_000);
    const gz = new Uint8Array(gzipSync(text));
    const through = (bytes: Uint8Array, size = text.length) => streamBytes(chunked(bytes, 4096).pipeThrough(gunzipStream(size)));
    expect(Buffer.from(await through(gz)).equals(text)).toBe(true);
    for (const cut of [100, 5000]) await expect(through(gz.subarray(0, gz.length - cut)), `${cut} bytes cut`).rejects.toThrow();
    await expect(through(gz, text.length - 1)).rejects.toThrow(/not 99999/);
    await expect(through(gz, text.length + 1)).rejects.toThrow(/not 100001/);
    // Not gzip at all.
    await expect(through(text)).rejects.toThrow();
  });
});
