// readTar against archives written by GNU tar in each of its formats.
import { execFileSync } from 'node:child_process';
import { link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readTar, TarParser } from '../../../src/util/codecs/tar.js';
import { concat, inChunks } from '../../helpers/bytes.js';
import { PackyardError } from '../../../src/util/errors.js';
import { paxEntry, tarArchive, tarEntry } from '../../fixtures/tar-entries.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'packyard-tar-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const dec = new TextDecoder();
const long = (n: number) => Array.from({ length: n }, (_, i) => `dir${i}`).join('/');

/** Regular files to archive, by format: ustar's 100+155-byte split and v7's 99 bytes limit names. */
function filesFor(format: string): Record<string, string> {
  const files: Record<string, string> = {
    control: 'Package: x\n',
    empty: '',
    'block-sized': 'b'.repeat(512),
    'sub/dir/one-byte': '1',
  };
  if (format !== 'v7') files[`${long(20)}/file-in-a-deep-directory`] = 'deep'; // > 100 bytes
  if (format === 'gnu' || format === 'pax') {
    files[`${'n'.repeat(150)}-a-name-longer-than-any-header-field`] = 'long name';
    files[`${long(40)}/x`] = 'very deep'; // > 255 bytes
    files['ünïcödé-名前'] = 'utf-8 name';
  }
  return files;
}

/** Archives `files` plus a symlink and a hard link, or, with `only`, just `files`. */
async function archive(format: string, files: Record<string, string>, label = format, only = false): Promise<Uint8Array> {
  const root = path.join(dir, label);
  for (const [name, body] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await writeFile(path.join(root, name), body);
  }
  if (only) return new Uint8Array(execFileSync('tar', [`--format=${format}`, '-C', root, '-cf', '-', ...Object.keys(files)]));
  // Entries readTar must step over: a symlink and a hard link to a file already archived.
  await symlink('control', path.join(root, 'a-symlink'));
  await link(path.join(root, 'control'), path.join(root, 'a-hardlink'));
  return new Uint8Array(execFileSync('tar', [`--format=${format}`, '-C', root, '-cf', '-', '.']));
}

describe('readTar', () => {
  test.each(['gnu', 'pax', 'ustar', 'v7'])('reads the regular files of a GNU tar --format=%s archive', async (format) => {
    const files = filesFor(format);
    const tar = await archive(format, files);
    // The long names really went through GNU long-name entries and pax records.
    const raw = new TextDecoder('latin1').decode(tar);
    if (format === 'gnu') expect(raw).toContain('././@LongLink');
    if (format === 'pax') expect(raw).toMatch(/\d+ path=/);
    if (format === 'ustar') expect(raw).toContain('dir19'); // in the prefix field
    const read = readTar(tar);
    const got = Object.fromEntries(read.filter((f) => f.kind === 'file').map((f) => [f.path, dec.decode(f.data)]));
    expect(got).toEqual(files);
    expect(read.some((f) => f.path.startsWith('./') || f.path.endsWith('/'))).toBe(false);
    // The links are listed as links, under the names they unpack to; `.` is the top directory.
    const kinds = new Map(read.map((f) => [f.path, f.kind]));
    expect([kinds.get('a-symlink'), kinds.get('a-hardlink'), kinds.get(''), kinds.get('sub/dir')]).toEqual(['symlink', 'hardlink', 'directory', 'directory']);
  });

  test('an archive without its end-of-archive blocks still reads', async () => {
    const tar = await archive('gnu', { control: 'x' }, 'gnu-short');
    const end = tar.length - 1024;
    expect(tar.subarray(end).every((b) => b === 0)).toBe(true);
    // GNU tar pads to a 10 KiB record, so cut right after the last entry's data instead.
    let last = 0;
    for (let pos = 0; pos + 512 <= tar.length && tar[pos] !== 0; ) {
      const size = parseInt(dec.decode(tar.subarray(pos + 124, pos + 136)).replace(/\0.*$/, ''), 8);
      last = pos + 512 + Math.ceil(size / 512) * 512;
      pos = last;
    }
    expect(readTar(tar.subarray(0, last)).map((f) => f.path)).toContain('control');
  });

  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return err instanceof PackyardError ? err.code : String(err);
    }
    return 'no error';
  };

  test('paths are where GNU tar unpacks the entry', () => {
    const names = ['/control', './/./control', 'a//b/./c', '././'];
    const tar = tarArchive(...names.map((name) => tarEntry({ name, type: name.endsWith('/') ? '5' : '0' })));
    expect(readTar(tar).map((f) => [f.name, f.path])).toEqual([['/control', 'control'], ['.//./control', 'control'], ['a//b/./c', 'a/b/c'], ['././', '']]);
  });

  test('rejects what GNU tar would unpack elsewhere or not at all', () => {
    const file = tarEntry({ name: 'f', data: 'x' });
    expect(code(() => readTar(tarArchive(tarEntry({ name: 'a/../control' }))))).toBe('unsafe-tar-path');
    expect(code(() => readTar(tarArchive(tarEntry({ name: '../control' }))))).toBe('unsafe-tar-path');
    expect(code(() => readTar(tarArchive(tarEntry({ name: 'control/' }))))).toBe('bad-tar');
    expect(code(() => readTar(tarArchive(paxEntry('g', { path: 'control' }), file)))).toBe('bad-tar');
    expect(code(() => readTar(tarArchive(paxEntry('g', { size: '1' }), file)))).toBe('bad-tar');
    expect(code(() => readTar(tarArchive(paxEntry('x', { 'GNU.sparse.name': 'control' }), file)))).toBe('bad-tar');
    expect(code(() => readTar(tarArchive(tarEntry({ name: '././@LongLink', type: 'L', data: 'a' }), paxEntry('x', { path: 'b' }), file)))).toBe('bad-tar');
    // An old tar's directory: a plain entry whose name ends in a slash.
    expect(readTar(tarArchive(tarEntry({ name: 'old-dir/', type: '\0' }))).map((f) => [f.path, f.kind])).toEqual([['old-dir', 'directory']]);
    // A global header that renames nothing (git archive writes one with a comment) is read past.
    expect(readTar(tarArchive(paxEntry('g', { comment: 'deadbeef' }), file)).map((f) => f.path)).toEqual(['f']);
  });

  test('rejects damage', async () => {
    const tar = await archive('gnu', { control: 'Package: x\n'.repeat(100) }, 'gnu-damage', true);
    const flipped = new Uint8Array(tar);
    flipped[0] = tar[0]! ^ 1;
    expect(code(() => readTar(flipped))).toBe('bad-tar');
    expect(code(() => readTar(tar.subarray(0, 700)))).toBe('bad-tar'); // inside the data
    expect(code(() => readTar(tar.subarray(0, 300)))).toBe('bad-tar'); // inside a header
    const badSize = new Uint8Array(tar);
    badSize.set(new TextEncoder().encode('99999999999'), 124); // bigger than the archive, checksum fixed below
    fixChecksum(badSize);
    expect(code(() => readTar(badSize))).toBe('bad-tar');
  });

  test('rejects an extended header with no entry after it', async () => {
    const tar = await archive('pax', { ['p'.repeat(120)]: 'x' }, 'pax-dangling', true);
    // pax writes an `x` header first: keep only it, then end the archive.
    const size = parseInt(dec.decode(tar.subarray(124, 136)).replace(/\0.*$/, ''), 8);
    expect(String.fromCharCode(tar[156]!)).toBe('x');
    const cut = 512 + Math.ceil(size / 512) * 512;
    expect(code(() => readTar(tar.subarray(0, cut)))).toBe('bad-tar');
    const ended = new Uint8Array(cut + 1024);
    ended.set(tar.subarray(0, cut));
    expect(code(() => readTar(ended))).toBe('bad-tar');
  });
});

function fixChecksum(header: Uint8Array) {
  header.fill(0x20, 148, 156);
  const sum = header.subarray(0, 512).reduce((a, b) => a + b, 0);
  header.set(new TextEncoder().encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
}

describe('TarParser', () => {
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return err instanceof PackyardError ? err.code : String(err);
    }
    return 'no error';
  };
  const headers = (tar: Uint8Array, chunk: number | 'random') => {
    const seen: [string, string, string, number, number][] = [];
    const parser = new TarParser((h, offset) => seen.push([h.path, h.kind, h.linkName, h.mode, offset]));
    inChunks(tar, chunk, (part) => parser.push(part));
    parser.end();
    return seen;
  };

  test('reads the same entries whatever the chunks it is fed, with link targets and modes', async () => {
    const longTarget = `${'t'.repeat(150)}/control`;
    const tar = concat(
      await archive('gnu', filesFor('gnu'), 'gnu-chunks'),
      // Stands after GNU tar's end blocks, so it is never read: the parser stops there.
      tarEntry({ name: 'after-the-end' }),
    );
    const whole = headers(tar, tar.length);
    expect(whole.map(([p]) => p)).not.toContain('after-the-end');
    expect(whole.find(([p]) => p === 'a-symlink')?.slice(1, 3)).toEqual(['symlink', 'control']);
    expect(whole.find(([p]) => p === 'a-hardlink')?.slice(1, 3)).toEqual(['hardlink', './control']); // the member's name as archived
    expect(whole.find(([p]) => p === 'control')?.[3]).toBe(0o644 & ~process.umask());
    for (const size of [1, 511, 513, 'random'] as const) expect(headers(tar, size), String(size)).toEqual(whole);
    // Long link targets, by GNU `K` entries and by pax `linkpath`.
    const long = tarArchive(
      tarEntry({ name: '././@LongLink', type: 'K', data: longTarget }),
      tarEntry({ name: 'gnu-link', type: '2', linkname: 'short' }),
      paxEntry('x', { linkpath: longTarget }),
      tarEntry({ name: 'pax-link', type: '2', linkname: 'short' }),
    );
    expect(headers(long, 7).map(([p, , l]) => [p, l])).toEqual([['gnu-link', longTarget], ['pax-link', longTarget]]);
  });

  test('refuses a stream cut inside an entry and keeps ".." for its caller to judge', () => {
    const parser = new TarParser(() => {});
    parser.push(tarArchive(tarEntry({ name: 'f', data: 'x'.repeat(600) })).subarray(0, 700));
    expect(code(() => parser.end())).toBe('bad-tar');
    expect(headers(tarArchive(tarEntry({ name: 'a/../../b' })), 100).map(([p]) => p)).toEqual(['a/../../b']);
  });
});
