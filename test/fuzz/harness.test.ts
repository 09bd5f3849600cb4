// The fuzz tests' own checks must be able to fail: a hang (synchronous or not), an exception
// that is not a PackyardError, and a 5xx are each caught; and the mutations do what they say.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { PackyardError } from '../../src/util/errors.js';
import { chunkSplits, chunksOf, mutate, mutation, refusal, withinTime } from '../helpers/fuzz.js';

describe('the time bound', () => {
  test('stops an endless synchronous loop', async () => {
    const start = performance.now();
    await expect(
      withinTime(
        'a loop',
        () => {
          for (;;);
        },
        100,
      ),
    ).rejects.toThrow('a loop took more than 100 ms');
    expect(performance.now() - start).toBeLessThan(2000);
  });

  test('stops waiting for a promise that never settles', async () => {
    await expect(withinTime('a wait', () => new Promise(() => {}), 100)).rejects.toThrow('a wait took more than 100 ms');
  });

  test('fails slow work after an await, which it cannot stop', async () => {
    const slow = async () => {
      await Promise.resolve();
      const end = performance.now() + 150;
      while (performance.now() < end);
    };
    await expect(withinTime('slow work', slow, 100)).rejects.toThrow('slow work took more than 100 ms');
  });

  test('passes results and errors through', async () => {
    expect(await withinTime('sync', () => 1)).toBe(1);
    expect(await withinTime('async', async () => 2)).toBe(2);
    const err = new PackyardError(422, 'x', 'y');
    await expect(withinTime('throws', () => Promise.reject(err))).rejects.toBe(err);
  });
});

describe('refusal', () => {
  test('returns a 4xx PackyardError, or undefined when the work succeeds', async () => {
    expect(await refusal('ok', () => 1)).toBeUndefined();
    expect((await refusal('bad input', () => Promise.reject(new PackyardError(422, 'bad-thing', 'no'))))?.code).toBe('bad-thing');
  });

  test('fails on any other exception, and on a 5xx', async () => {
    await expect(refusal('crash', () => (undefined as unknown as { x: () => void }).x())).rejects.toThrow(TypeError);
    await expect(refusal('allocation', () => new Uint8Array(-1))).rejects.toThrow(RangeError);
    await expect(refusal('server error', () => Promise.reject(new PackyardError(500, 'oops', 'no')))).rejects.toThrow(/expected 500 to be less than 500/);
  });
});

describe('mutations and chunks', () => {
  const input = Uint8Array.from({ length: 100 }, (_, i) => i);

  test('each kind edits what it names', () => {
    expect(mutate(input, { kind: 'set', at: 0.5, value: 255 })[50]).toBe(255);
    expect(mutate(input, { kind: 'xor', at: 0, bit: 7 })[0]).toBe(128);
    expect(mutate(input, { kind: 'truncate', at: 0.1 }).length).toBe(10);
    expect([...mutate(input, { kind: 'insert', at: 0, bytes: Uint8Array.of(9, 9) }).subarray(0, 3)]).toEqual([9, 9, 0]);
    expect([...mutate(input, { kind: 'noise', at: 0.98, bytes: Uint8Array.of(7, 7, 7, 7) })].slice(97)).toEqual([97, 7, 7]);
    expect(mutate(input, { kind: 'delete', at: 0.5, length: 10 }).length).toBe(90);
    expect([...mutate(input, { kind: 'duplicate', at: 0, length: 2, to: 0.99 }).subarray(99)]).toEqual([0, 1, 99]);
    expect([...mutate(input, { kind: 'u32', at: 0, value: 0xffffffff, little: false }).subarray(0, 5)]).toEqual([255, 255, 255, 255, 4]);
    expect(new TextDecoder().decode(mutate(input, { kind: 'digits', at: 0, text: '777' }).subarray(0, 3))).toBe('777');
    expect(input[0]).toBe(0); // the input itself is left alone
  });

  test('edits spread over the whole input, not only its start', () => {
    const places = fc.sample(mutation(), { numRuns: 500, seed: 1 }).map((m) => m.at);
    expect(places.filter((at) => at < 0.1).length).toBeLessThan(100);
    expect(places.filter((at) => at >= 0.5).length).toBeGreaterThan(200);
  });

  test('chunks cover the input exactly, in order', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), chunkSplits(), (bytes, splits) => {
        const chunks = chunksOf(bytes, splits);
        expect(chunks.every((c) => c.length > 0)).toBe(true);
        expect(Buffer.concat(chunks)).toEqual(Buffer.from(bytes));
      }),
      { seed: 1 },
    );
  });
});
