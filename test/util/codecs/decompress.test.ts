// decompress() against the real gzip, xz and zstd tools, including bombs and broken input.
import { execFileSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { type Compression, decompress } from '../../../src/util/codecs/decompress.js';
import { PackyardError } from '../../../src/util/errors.js';

const TOOLS: Record<Exclude<Compression, 'none'>, string[]> = {
  gz: ['gzip', '-n', '-c'],
  xz: ['xz', '-c', '-T1'],
  zst: ['zstd', '-q', '-c'],
};
const formats = Object.keys(TOOLS) as Exclude<Compression, 'none'>[];

function compress(format: Exclude<Compression, 'none'>, data: Uint8Array, level?: string): Uint8Array {
  const [cmd, ...args] = TOOLS[format];
  return new Uint8Array(execFileSync(cmd!, level ? [...args, level] : args, { input: data, maxBuffer: 1 << 30 }));
}

/** Text-like but not trivially compressible. */
function sample(size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = 12345;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = 32 + ((x >>> 16) % 64);
  }
  return out;
}

async function code(work: Promise<unknown>): Promise<string> {
  try {
    await work;
  } catch (err) {
    return err instanceof PackyardError ? err.code : `not a PackyardError: ${String(err)}`;
  }
  return 'no error';
}

describe('decompress', () => {
  test.each(formats)('%s: round trip of what the real tool writes, and the exact limit', async (format) => {
    for (const size of [1, 1000, 300_000]) {
      const data = sample(size);
      const packed = compress(format, data);
      expect(await decompress(packed, format, size)).toEqual(data);
      expect(await code(decompress(packed, format, size - 1))).toBe('decompressed-too-large');
    }
  });

  test('none passes bytes through, within the limit', async () => {
    const data = sample(10);
    expect(await decompress(data, 'none', 10)).toBe(data);
    expect(await code(decompress(data, 'none', 9))).toBe('decompressed-too-large');
  });

  test('concatenated gzip members and zstd frames are one stream, as for the command-line tools', async () => {
    const [a, b] = [sample(5000), sample(7000).reverse()];
    const joined = new Uint8Array([...a, ...b]);
    for (const format of ['gz', 'zst'] as const) {
      const packed = new Uint8Array([...compress(format, a), ...compress(format, b)]);
      expect(await decompress(packed, format, 1 << 20)).toEqual(joined);
    }
  });

  test.each(formats)('%s: a bomb stops at the limit without inflating in memory', async (format) => {
    const bomb = compress(format, new Uint8Array(64 * 1024 * 1024), format === 'xz' ? '-0' : undefined);
    expect(bomb.length).toBeLessThan(100_000);
    const before = process.memoryUsage().arrayBuffers;
    let peak = before;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 5);
    try {
      expect(await code(decompress(bomb, format, 4 * 1024 * 1024))).toBe('decompressed-too-large');
    } finally {
      clearInterval(timer);
    }
    expect(peak - before).toBeLessThan(24 * 1024 * 1024);
  });

  test.each(formats)('%s: damaged, truncated, empty or foreign input is corrupt-compression', async (format) => {
    const data = sample(200_000);
    const packed = compress(format, data);
    const cases = [
      packed.subarray(0, packed.length - 5),
      packed.subarray(0, packed.length >> 1),
      packed.subarray(0, 3),
      new Uint8Array(0),
      new TextEncoder().encode('plain text, not compressed at all'),
      new Uint8Array([...packed, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
    ];
    // zstd frames from the CLI carry no checksum that fzstd checks, so flip a header byte there.
    const damaged = new Uint8Array(packed);
    damaged[format === 'zst' ? 0 : packed.length >> 1]! ^= 0x55;
    cases.push(damaged);
    for (const input of cases) expect(await code(decompress(input, format, 1 << 20))).toBe('corrupt-compression');
  });

  test('xz keeps working after failed and abandoned decompressions', async () => {
    // The decoder keeps no state between calls: a failed or refused member must not affect the next.
    const good = compress('xz', sample(100_000));
    const big = compress('xz', new Uint8Array(32 * 1024 * 1024), '-0');
    for (let i = 0; i < 3; i++) {
      expect(await code(decompress(good.subarray(0, 5000), 'xz', 1 << 20))).toBe('corrupt-compression');
      expect(await code(decompress(big, 'xz', 1 << 20))).toBe('decompressed-too-large');
    }
    const results = await Promise.all([1, 2, 3].map(() => decompress(good, 'xz', 1 << 20)));
    for (const r of results) expect(r.length).toBe(100_000);
  });

  test('a zstd frame declaring a window over the limit is refused before allocating it', async () => {
    // Magic, no flags, window descriptor 2^30, then one empty last raw block.
    const frame = new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa0, 0x01, 0x00, 0x00]);
    expect(await code(decompress(frame, 'zst', 16 * 1024 * 1024))).toBe('decompressed-too-large');
  });
});
