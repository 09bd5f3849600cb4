import { describe, expect, it } from 'vitest';
import { Lru } from '../../src/util/lru.js';

describe('Lru', () => {
  it('evicts the least recently used entry past its capacity', () => {
    const lru = new Lru<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1);
    lru.set('c', 3);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBe(1);
    expect(lru.get('c')).toBe(3);
  });

  it('evicts by total weight, keeping at least the newest entry', () => {
    const lru = new Lru<string, Uint8Array>(100, (b) => b.length, 10);
    lru.set('a', new Uint8Array(4));
    lru.set('b', new Uint8Array(4));
    lru.set('c', new Uint8Array(4));
    expect(lru.get('a')).toBeUndefined();
    expect(lru.get('b')).toBeDefined();
    lru.set('huge', new Uint8Array(50));
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('huge')).toBeDefined();
    lru.set('huge', new Uint8Array(1));
    lru.set('d', new Uint8Array(9));
    expect(lru.get('huge')).toBeDefined();
  });
});
