// The plain-TypeScript xz decoder against what the real xz (XZ Utils) writes, option by option,
// and against damage: every failure must be an XzError or XzLimitError, never a hang or a crash.
import { execFileSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { XzError, XzLimitError, unxz } from '../../../src/util/codecs/xz.js';

function xz(data: Uint8Array, ...args: string[]): Uint8Array {
  return new Uint8Array(execFileSync('xz', ['-c', '-T1', ...args], { input: data, maxBuffer: 1 << 30 }));
}

/** Text-like, with repeats at many distances so matches, reps and literals all occur. */
function sample(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed;
  const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8;
  for (let i = 0; i < size; ) {
    if (i > 64 && next() % 3 === 0) {
      const dist = 1 + (next() % Math.min(i, next() % 2 ? 64 : 200_000));
      const len = Math.min(size - i, 2 + (next() % 300));
      for (let k = 0; k < len; k++, i++) out[i] = out[i - dist]!;
    } else {
      out[i++] = 32 + (next() % 64);
    }
  }
  return out;
}

function random(size: number, seed = 7): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) out[i] = (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) >>> 24;
  return out;
}

/** toEqual compares typed arrays element by element, far too slowly for megabytes. */
function same(actual: Uint8Array, expected: Uint8Array): boolean {
  return Buffer.from(actual.buffer, actual.byteOffset, actual.length).equals(expected);
}

async function failure(work: Promise<unknown>): Promise<string> {
  try {
    await work;
  } catch (err) {
    if (err instanceof XzLimitError) return 'limit';
    if (err instanceof XzError) return err.message;
    return `unexpected: ${String(err)}`;
  }
  return 'no error';
}

describe('unxz', () => {
  const data = sample(400_000);

  test.each([
    ['-0'],
    ['-6'],
    ['-9e'],
    ['--check=none'],
    ['--check=crc32'],
    ['--check=crc64'],
    ['--check=sha256'],
    ['--block-size=50000'],
    ['-T2', '--block-size=100000'], // multi-threaded: sizes in every block header
    ['--lzma2=preset=6,lc=0,lp=0,pb=0'],
    ['--lzma2=preset=6,lc=4,lp=0,pb=4'],
    ['--lzma2=preset=6,lc=0,lp=4,pb=2'],
    ['--lzma2=preset=6,lc=1,lp=3,pb=1'],
    ['--lzma2=preset=1,dict=4KiB,mf=hc3'],
    ['--lzma2=preset=6,nice=273,mf=bt4,mode=normal'],
    ['--lzma2=preset=3,mode=fast,mf=hc4'],
  ])('decodes xz %s', async (...args) => {
    expect(same(await unxz(xz(data, ...args), data.length), data)).toBe(true);
  });

  test('incompressible data (uncompressed LZMA2 chunks), empty input and one byte', async () => {
    const noise = random(300_000);
    expect(same(await unxz(xz(noise), noise.length), noise)).toBe(true);
    const mixed = new Uint8Array([...noise.subarray(0, 70_000), ...data.subarray(0, 90_000), ...noise.subarray(0, 70_000)]);
    expect(same(await unxz(xz(mixed), mixed.length), mixed)).toBe(true);
    expect(await unxz(xz(new Uint8Array(0)), 0)).toEqual(new Uint8Array(0));
    expect(await unxz(xz(new Uint8Array([42])), 1)).toEqual(new Uint8Array([42]));
  });

  test('long runs: overlapping matches and the longest lengths', async () => {
    const runs = new Uint8Array(3_000_000);
    for (let i = 0; i < runs.length; i++) runs[i] = (i >> 16) % 3 === 0 ? 0 : i % 7;
    expect(same(await unxz(xz(runs), runs.length), runs)).toBe(true);
  });

  test('concatenated streams with stream padding, as xz -d accepts', async () => {
    const [a, b] = [sample(30_000, 2), sample(20_000, 3)];
    const joined = new Uint8Array([...xz(a), 0, 0, 0, 0, ...xz(b, '--check=crc32'), 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(same(await unxz(joined, 1 << 20), new Uint8Array([...a, ...b]))).toBe(true);
    // Padding must come in fours.
    expect(await failure(unxz(new Uint8Array([...xz(a), 0, 0]), 1 << 20))).toBe('trailing garbage');
  });

  test('the limit holds exactly, and is enforced before a chunk is decoded', async () => {
    const packed = xz(data);
    expect((await unxz(packed, data.length)).length).toBe(data.length);
    expect(await failure(unxz(packed, data.length - 1))).toBe('limit');
    expect(await failure(unxz(xz(new Uint8Array(64 << 20), '-0'), 1 << 20))).toBe('limit');
  });

  test('refuses what it does not support, and what is not xz', async () => {
    expect(await failure(unxz(xz(data, '--x86', '--lzma2'), 1 << 20))).toBe('unsupported options');
    expect(await failure(unxz(xz(data, '--delta=dist=4', '--lzma2'), 1 << 20))).toBe('unsupported options');
    expect(await failure(unxz(xz(data, '--format=lzma'), 1 << 20))).toBe('not xz data');
    expect(await failure(unxz(xz(data, '-q', '--format=raw'), 1 << 20))).toBe('not xz data');
  });

  test.each(['crc32', 'crc64', 'sha256'])('a wrong %s check is damaged data', async (check) => {
    const packed = xz(data.subarray(0, 5000), `--check=${check}`);
    // The check field sits right before the index (12-byte footer, then the index of one record).
    const bad = new Uint8Array(packed);
    const indexStart = bad.length - 12 - ((new DataView(bad.buffer).getUint32(bad.length - 8, true) + 1) * 4);
    bad[indexStart - 1]! ^= 1;
    expect(await failure(unxz(bad, 1 << 20))).toBe('damaged data');
  });

  test('every single-byte change or cut of a small stream fails cleanly or decodes the same', async () => {
    const original = sample(3000, 9);
    for (const args of [['--check=crc64'], ['--check=none']]) {
      const packed = xz(original, ...args);
      for (let i = 0; i < packed.length; i++) {
        for (const flip of [0x01, 0x80, 0xff]) {
          const bad = new Uint8Array(packed);
          bad[i]! ^= flip;
          const result = await unxz(bad, 1 << 20).catch((err: unknown) => err);
          if (result instanceof Uint8Array) {
            // Only possible without a check, and then the index still has to match.
            expect(args).toEqual(['--check=none']);
            expect(result.length).toBe(original.length);
          } else {
            expect(result instanceof XzError || result instanceof XzLimitError, String(result)).toBe(true);
          }
        }
        expect(await failure(unxz(packed.subarray(0, i), 1 << 20))).not.toBe('no error');
      }
    }
  });
});
