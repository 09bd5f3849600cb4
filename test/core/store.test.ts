import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../src/storage/memory.js';
import { RepoStore } from '../../src/core/store.js';
import { layout } from '../../src/core/layout.js';
import { testService } from '../helpers/service.js';

describe('RepoStore', () => {
  it('lets the requests that find a head expired share one read of it', async () => {
    const storage = new MemoryStorage();
    await (await testService(storage)).createRepo({ name: 'acme', type: 'deb' }, 'test');
    let headReads = 0;
    const get = storage.get.bind(storage);
    storage.get = (key, range) => {
      if (key === layout.head('acme')) headReads++;
      return get(key, range);
    };
    let now = 0;
    const store = new RepoStore(storage, { headTtlMs: 1000, now: () => now });
    const first = await Promise.all(Array.from({ length: 32 }, () => store.current('acme')));
    expect(headReads).toBe(1);
    expect(new Set(first).size).toBe(1);
    now += 1001;
    await Promise.all(Array.from({ length: 32 }, () => store.current('acme')));
    expect(headReads).toBe(2);
    expect(await store.current('nope')).toBeNull();
  });
});
