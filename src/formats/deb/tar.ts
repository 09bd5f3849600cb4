import { badPackage } from '../../util/errors.js';

/** What an entry is, from its typeflag; `other` covers devices, fifos, sparse files and unknown types. */
export type TarEntryKind = 'file' | 'directory' | 'hardlink' | 'symlink' | 'other';

/** One entry of a tar archive; `data` is a view into the archive's bytes. */
export interface TarEntry {
  /** The name as stored (after GNU long names and pax `path`), for messages. */
  name: string;
  /** Where GNU tar unpacks it: no leading `/`, no `.` or empty components; `''` is the top directory. */
  path: string;
  kind: TarEntryKind;
  data: Uint8Array;
}

const BLOCK = 512;
const utf8 = new TextDecoder();
const latin1 = new TextDecoder('latin1');
const KINDS = new Map<string, TarEntryKind>([['0', 'file'], ['\0', 'file'], ['7', 'file'], ['1', 'hardlink'], ['2', 'symlink'], ['5', 'directory']]);
/** Pax keywords that rename an entry or change its size: in a global header they would apply to every entry after it. */
const RENAMING = new Set(['path', 'linkpath', 'size']);

/**
 * Lists the entries of an in-memory tar archive (ustar, GNU long names, pax `path`/`size`), each
 * with the path GNU tar (which dpkg runs) would unpack it to. Refuses what tar would unpack
 * differently from how it reads here: a `..` component, two long names for one entry, a
 * global pax header that renames, sparse files.
 */
export function readTar(archive: Uint8Array): TarEntry[] {
  const entries: TarEntry[] = [];
  let pos = 0;
  // Set by a GNU `L` or pax `x` entry, for the entry that follows it.
  let nextPath: string | undefined;
  let nextSize: number | undefined;
  const end = () => {
    if (nextPath !== undefined || nextSize !== undefined) throw badTar('archive ends after an extended header, without its entry');
    return entries;
  };
  const rename = (path: string, offset: number) => {
    if (nextPath !== undefined) throw badTar(`two long names for one entry at offset ${offset}`);
    nextPath = path;
  };
  while (pos < archive.length) {
    if (pos + BLOCK > archive.length) throw badTar(`truncated header at offset ${pos}`);
    const header = archive.subarray(pos, pos + BLOCK);
    if (header.every((b) => b === 0)) return end(); // end-of-archive marker; tar ignores what follows
    verifyChecksum(header, pos);
    const type = String.fromCharCode(header[156]!);
    // Entries about the next entry. `K` (long link name) is read past: links are never read.
    const meta = type === 'L' || type === 'K' || type === 'x' || type === 'g';
    const size = (meta ? undefined : nextSize) ?? parseSize(header.subarray(124, 136), pos);
    const start = pos + BLOCK;
    if (start + size > archive.length) throw badTar(`truncated entry at offset ${pos}`);
    const data = archive.subarray(start, start + size);
    const offset = pos;
    pos = start + Math.ceil(size / BLOCK) * BLOCK;

    if (type === 'L') {
      rename(cString(data), offset);
    } else if (type === 'x' || type === 'g') {
      const pax = parsePax(data, start);
      for (const key of pax.keys()) {
        if (key.startsWith('GNU.sparse.')) throw badTar(`sparse file at offset ${offset}`);
        if (type === 'g' && RENAMING.has(key)) throw badTar(`global pax header at offset ${offset} sets "${key}" for every entry after it`);
      }
      const paxPath = type === 'x' ? pax.get('path') : undefined;
      if (paxPath !== undefined) rename(paxPath, offset);
      const paxSize = type === 'x' ? pax.get('size') : undefined;
      if (paxSize !== undefined) nextSize = paxNumber(paxSize, start);
    } else if (!meta) {
      const name = nextPath ?? headerPath(header);
      nextPath = nextSize = undefined;
      // Old tars mark a directory by a trailing slash on a plain entry.
      const kind = type === '\0' && name.endsWith('/') ? 'directory' : (KINDS.get(type) ?? 'other');
      entries.push({ name, path: unpackedPath(name, kind, offset), kind, data });
    }
  }
  return end();
}

/** The path GNU tar extracts `name` to, relative to the directory it unpacks into. */
function unpackedPath(name: string, kind: TarEntryKind, offset: number): string {
  if (name === '') throw badTar(`entry without a name at offset ${offset}`);
  // GNU tar fails on a file whose name says it is a directory.
  if (name.endsWith('/') && kind !== 'directory') throw badTar(`${JSON.stringify(name)} at offset ${offset} is not a directory but its name ends in "/"`);
  const parts = name.split('/').filter((part) => part !== '' && part !== '.');
  // GNU tar refuses to unpack these, so dpkg fails on them.
  if (parts.includes('..')) throw badPackage('unsafe-tar-path', `tar entry ${JSON.stringify(name)} has a ".." in its path`);
  return parts.join('/');
}

function headerPath(header: Uint8Array): string {
  const name = cString(header.subarray(0, 100));
  // Only POSIX ustar uses the prefix field; old GNU tar keeps other data there.
  const posix = latin1.decode(header.subarray(257, 263)) === 'ustar\0';
  const prefix = posix ? cString(header.subarray(345, 500)) : '';
  return prefix ? `${prefix}/${name}` : name;
}

function verifyChecksum(header: Uint8Array, offset: number): void {
  const stored = parseOctal(header.subarray(148, 156));
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : header[i]!;
    unsigned += b;
    signed += b < 128 ? b : b - 256;
  }
  // Some old tars summed signed bytes; GNU tar accepts either.
  if (stored !== unsigned && stored !== signed) throw badTar(`bad header checksum at offset ${offset}`);
}

function parseSize(field: Uint8Array, offset: number): number {
  if (field[0]! & 0x80) {
    // GNU base-256 for sizes that do not fit in octal; a sign bit would mean a negative size.
    if (field[0]! & 0x40) throw badTar(`negative size at offset ${offset}`);
    let size = field[0]! & 0x3f;
    for (let i = 1; i < field.length; i++) size = size * 256 + field[i]!;
    return size;
  }
  const size = parseOctal(field);
  if (size === undefined) throw badTar(`invalid size field at offset ${offset}`);
  return size;
}

/** Octal digits, optionally padded with leading spaces and ended by NUL or space; undefined if invalid. */
function parseOctal(field: Uint8Array): number | undefined {
  const text = latin1.decode(field).replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (!/^[0-7]*$/.test(text)) return undefined;
  return text === '' ? 0 : parseInt(text, 8);
}

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return utf8.decode(end === -1 ? bytes : bytes.subarray(0, end));
}

/** Pax records are `<length> <key>=<value>\n`, where length counts the whole record in bytes. */
function parsePax(data: Uint8Array, offset: number): Map<string, string> {
  const records = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // padding some writers leave after the last record
    const space = data.indexOf(0x20, pos);
    const digits = space === -1 ? '' : latin1.decode(data.subarray(pos, space));
    const length = /^[0-9]+$/.test(digits) ? Number(digits) : NaN;
    if (!(length > space - pos) || pos + length > data.length || data[pos + length - 1] !== 0x0a) {
      throw badTar(`malformed pax header at offset ${offset}`);
    }
    const bytes = data.subarray(space + 1, pos + length - 1);
    // GNU tar reads a value as a C string: what follows a NUL would be a name only we see.
    if (bytes.includes(0)) throw badTar(`pax record with a NUL byte at offset ${offset}`);
    const record = utf8.decode(bytes);
    const eq = record.indexOf('=');
    if (eq <= 0) throw badTar(`malformed pax record at offset ${offset}`);
    records.set(record.slice(0, eq), record.slice(eq + 1));
    pos += length;
  }
  return records;
}

function paxNumber(text: string, offset: number): number {
  if (!/^[0-9]+$/.test(text)) throw badTar(`invalid pax size at offset ${offset}`);
  return Number(text);
}

function badTar(detail: string) {
  return badPackage('bad-tar', `bad tar archive: ${detail}`);
}
