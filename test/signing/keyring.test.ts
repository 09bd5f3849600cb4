import { describe, expect, it } from 'vitest';
import { Keyring } from '../../src/signing/keyring.js';
import { signingLayout } from '../../src/signing/storage-keys.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { Storage } from '../../src/storage/types.js';
import { emptyS3 } from '../helpers/radosgw.js';

/** Several processes starting at once on one empty store, as nodes on a new bucket do. */
async function startTogether(storage: Storage, n: number) {
  const started = await Promise.all(Array.from({ length: n }, () => new Keyring(storage).signer('test key')));
  return { generated: started.flatMap((s) => (s.generated ? [s.generated] : [])), fingerprints: started.map((s) => s.signer.fingerprints.join(',')) };
}

describe('the first signing key of a store', () => {
  for (const [name, make] of [
    ['memory', async () => new MemoryStorage()],
    ['S3 (radosgw)', () => emptyS3()],
  ] as const) {
    it(`is made once when several processes start on an empty store together (${name})`, async () => {
      const storage = await make();
      const { generated, fingerprints } = await startTogether(storage, 4);
      expect(generated).toHaveLength(1);
      expect(new Set(fingerprints)).toEqual(new Set([generated[0]]));
      expect(await new Keyring(storage).fingerprints()).toEqual(generated);
    }, 60_000);
  }

  it('does not linger in storage once removed', async () => {
    const storage = new MemoryStorage();
    const keyring = new Keyring(storage);
    const { generated } = await keyring.signer('test key');
    await keyring.generate('second key');
    expect(await storage.head(signingLayout.firstKey)).not.toBeNull();
    expect(await keyring.remove(generated!)).toBe(true);
    expect(await storage.head(signingLayout.firstKey)).toBeNull();
    // A later start finds the remaining key and makes none.
    expect((await new Keyring(storage).signer('test key')).generated).toBeUndefined();
  });
});
