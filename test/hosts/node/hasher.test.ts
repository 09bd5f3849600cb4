import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createNodeHasher } from '../../../src/hosts/node/hasher.js';

describe('Node digests', () => {
  it('agree with the coreutils tools when fed in chunks', () => {
    const data = new Uint8Array(3_000_000).map((_, i) => (i * 7 + (i >> 9)) & 255);
    const tool = (name: string) => execFileSync(name, { input: data }).toString().split(' ')[0];
    const hasher = createNodeHasher();
    for (let i = 0; i < data.length; i += 65536) hasher.update(data.subarray(i, i + 65536));
    expect(hasher.digest()).toEqual({ md5: tool('md5sum'), sha1: tool('sha1sum'), sha256: tool('sha256sum'), sha512: tool('sha512sum') });
    const some = createNodeHasher(['sha256', 'sha1']);
    some.update(data);
    expect(some.digest()).toEqual({ sha256: tool('sha256sum'), sha1: tool('sha1sum') });
  });
});
