// The Node host's one-shot gunzip must keep decompress()'s promises: exact limit, bombs stopped,
// corruption reported, concatenated members read whole.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { decompress } from '../../../src/util/codecs/decompress.js';
import { nodeGunzip, nodeGzip } from '../../../src/hosts/node/gzip.js';
import { PackyardError } from '../../../src/util/errors.js';

const gzip = (data: Uint8Array) => new Uint8Array(execFileSync('gzip', ['-n', '-c'], { input: data }));
const text = (n: number) => new TextEncoder().encode('Package: x\nDescription: y\n'.repeat(n));

async function failure(work: Promise<unknown>): Promise<string> {
  try {
    await work;
    return 'no error';
  } catch (err) {
    return err instanceof PackyardError ? err.code : `not a PackyardError: ${String(err)}`;
  }
}

describe('Node gunzip in decompress()', () => {
  it('round-trips what gzip writes, up to the exact limit', async () => {
    const data = text(1000);
    expect(await decompress(gzip(data), 'gz', data.length, nodeGunzip)).toEqual(data);
    expect(await failure(decompress(gzip(data), 'gz', data.length - 1, nodeGunzip))).toBe('decompressed-too-large');
    const joined = new Uint8Array([...gzip(text(3)), ...gzip(text(4))]);
    expect(new TextDecoder().decode(await decompress(joined, 'gz', 1 << 20, nodeGunzip))).toBe(new TextDecoder().decode(text(7)));
  });

  it('stops a bomb at the limit', async () => {
    const bomb = gzip(new Uint8Array(64 * 1024 * 1024));
    expect(await failure(decompress(bomb, 'gz', 4 * 1024 * 1024, nodeGunzip))).toBe('decompressed-too-large');
  });

  it('reports damaged, truncated and foreign input as corrupt', async () => {
    const packed = gzip(text(2000));
    const flipped = new Uint8Array(packed);
    flipped[packed.length - 6]! ^= 0xff; // the CRC32
    for (const bad of [flipped, packed.subarray(0, packed.length - 10), new TextEncoder().encode('not gzip at all')]) {
      expect(await failure(decompress(bad, 'gz', 1 << 20, nodeGunzip))).toBe('corrupt-compression');
    }
  });

  it('gzips what gunzip reads back', async () => {
    const data = text(500);
    expect(await decompress(await nodeGzip(data), 'gz', data.length)).toEqual(data);
  });
});
