// Found by the fuzz tests (test/fuzz/): a header's claimed size must not be allocated before the
// bytes arrive. A 113-byte .rpm whose signature header claims 32 MiB, or a .deb whose control
// member claims 4 MiB, made the reader allocate all of it at once: a few such uploads at the same
// time would exhaust a 128 MB Worker. Memory held while the bytes stream in must follow the input.
import { expect, test } from 'vitest';
import { DebInspector } from '../../src/formats/deb/inspect.js';
import { RpmInspector } from '../../src/formats/rpm/inspect.js';
import { DEBIAN_BINARY, arHeader } from '../fixtures/malformed-debs.js';
import { concat } from '../helpers/bytes.js';
import { bufferBytes } from '../helpers/fuzz.js';
import { packyardError } from '../helpers/errors.js';

const MiB = 1024 * 1024;

/** ArrayBuffer bytes still held after `push` (the reader is kept alive by the caller). */
function heldAfter(push: () => void): number {
  const before = bufferBytes();
  push();
  return bufferBytes() - before;
}

test('a .deb control member claiming 4 MiB holds only the bytes that came', async () => {
  const inspector = new DebInspector();
  const start = concat('!<arch>\n', arHeader('debian-binary', 4), DEBIAN_BINARY, arHeader('control.tar', 4 * MiB), 'x');
  expect(heldAfter(() => inspector.push(start))).toBeLessThan(256 * 1024);
  expect((await packyardError(() => inspector.finish())).code).toBe('truncated');
});

test('an .rpm signature header claiming 32 MiB holds only the bytes that came', async () => {
  const lead = new Uint8Array(96);
  lead.set([0xed, 0xab, 0xee, 0xdb, 3]);
  lead[79] = 5; // a header-structured signature
  const intro = new Uint8Array(16);
  const view = new DataView(intro.buffer);
  view.setUint32(0, 0x8eade801);
  view.setUint32(8, 1);
  view.setUint32(12, 32 * MiB - 16);
  const inspector = new RpmInspector();
  expect(heldAfter(() => inspector.push(concat(lead, intro, 'x')))).toBeLessThan(256 * 1024);
  expect((await packyardError(() => inspector.finish())).code).toBe('truncated');
});
