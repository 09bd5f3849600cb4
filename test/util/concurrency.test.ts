import { describe, expect, it } from 'vitest';
import { limited } from '../../src/util/concurrency.js';

describe('limited', () => {
  it('runs at most `limit` calls at once, the others in call order, through failures', async () => {
    let active = 0;
    let peak = 0;
    const started: number[] = [];
    const task = limited(async (i: number) => {
      started.push(i);
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 1 + (i % 3)));
      active--;
      if (i === 4) throw new Error('four');
      return i * 2;
    }, 3);
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => task(i)));
    expect(peak).toBe(3);
    expect(started).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([0, 2, 4, 6, 'four', 10, 12, 14, 16, 18, 20, 22]);
    expect(await task(7)).toBe(14);
  });
});
