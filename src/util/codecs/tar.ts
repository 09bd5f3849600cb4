import { badPackage } from '../errors.js';

/** What an entry is, from its typeflag; `other` covers devices, fifos, sparse files and unknown types. */
export type TarEntryKind = 'file' | 'directory' | 'hardlink' | 'symlink' | 'other';

/** One entry's header, as read before its data. */
export interface TarHeader {
  /** The name as stored (after GNU long names and pax `path`), for messages and safety checks. */
  name: string;
  /**
   * Where GNU tar unpacks it: no leading `/`, no `.` or empty components; `''` is the top
   * directory. `..` components are kept: deciding about them is the caller's (readTar refuses them).
   */
  path: string;
  kind: TarEntryKind;
  /** The raw typeflag, for messages about `other` entries. */
  type: string;
  /** A link's target as stored (GNU long link names and pax `linkpath` applied); '' for other entries. */
  linkName: string;
  /** Permission bits (and setuid/setgid/sticky) from the header. */
  mode: number;
  size: number;
}

/** One entry of a tar archive; `data` is a view into the archive's bytes. */
export interface TarEntry extends TarHeader {
  data: Uint8Array;
}

const BLOCK = 512;
/** Long names and pax headers are read into memory: a bound keeps a hostile stream from growing one without end. */
const MAX_EXTENDED_HEADER = 1 << 20;
const utf8 = new TextDecoder();
const latin1 = new TextDecoder('latin1');
const KINDS = new Map<string, TarEntryKind>([['0', 'file'], ['\0', 'file'], ['7', 'file'], ['1', 'hardlink'], ['2', 'symlink'], ['5', 'directory']]);
/** Pax keywords that rename an entry or change its size: in a global header they would apply to every entry after it. */
const RENAMING = new Set(['path', 'linkpath', 'size']);

/**
 * A tar reader fed in chunks (ustar, GNU long names, pax `path`/`linkpath`/`size`): it calls
 * `onEntry` with each entry's header and the archive offset its data starts at, and passes over
 * the data itself, so memory stays constant whatever the archive's size. Refuses what GNU tar
 * would read differently from how it reads here: two long names for one entry, a global pax
 * header that renames, sparse files. After the end-of-archive marker it ignores what follows,
 * as tar does (`done` tells the caller it may stop feeding).
 */
export class TarParser {
  private readonly header = new Uint8Array(BLOCK);
  private have = 0;
  private pos = 0;
  private dataLeft = 0;
  private padLeft = 0;
  private meta: { type: string; bytes: Uint8Array; have: number; start: number; offset: number } | undefined;
  // Set by a GNU `L`/`K` or pax `x` entry, for the entry that follows it.
  private nextPath: string | undefined;
  private nextLink: string | undefined;
  private nextSize: number | undefined;
  private ended = false;

  constructor(private readonly onEntry: (header: TarHeader, dataOffset: number) => void) {}

  /** True once the end-of-archive marker has been read. */
  get done(): boolean {
    return this.ended;
  }

  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length && !this.ended) {
      const avail = chunk.length - i;
      if (this.dataLeft > 0 || this.padLeft > 0) {
        const n = Math.min(this.dataLeft + this.padLeft, avail);
        const fromData = Math.min(n, this.dataLeft);
        this.dataLeft -= fromData;
        this.padLeft -= n - fromData;
        i += n;
        this.pos += n;
        continue;
      }
      const meta = this.meta;
      if (meta) {
        const n = Math.min(meta.bytes.length - meta.have, avail);
        meta.bytes.set(chunk.subarray(i, i + n), meta.have);
        meta.have += n;
        i += n;
        this.pos += n;
        if (meta.have === meta.bytes.length) this.finishMeta(meta);
        continue;
      }
      const n = Math.min(BLOCK - this.have, avail);
      this.header.set(chunk.subarray(i, i + n), this.have);
      this.have += n;
      i += n;
      this.pos += n;
      if (this.have === BLOCK) {
        this.have = 0;
        this.readHeader(this.pos - BLOCK);
      }
    }
  }

  /** The archive has no more bytes: refuses one cut inside a header or an entry's data. */
  end(): void {
    if (this.ended) return;
    if (this.have > 0) throw badTar(`truncated header at offset ${this.pos - this.have}`);
    if (this.dataLeft > 0 || this.meta) throw badTar(`truncated entry at offset ${this.pos}`);
    this.finish();
  }

  private finish(): void {
    if (this.nextPath !== undefined || this.nextLink !== undefined || this.nextSize !== undefined) {
      throw badTar('archive ends after an extended header, without its entry');
    }
    this.ended = true;
  }

  private readHeader(offset: number): void {
    const header = this.header;
    if (header.every((b) => b === 0)) return this.finish(); // end-of-archive marker
    verifyChecksum(header, offset);
    const type = String.fromCharCode(header[156]!);
    // Entries about the next entry.
    const meta = type === 'L' || type === 'K' || type === 'x' || type === 'g';
    const size = (meta ? undefined : this.nextSize) ?? parseSize(header.subarray(124, 136), offset);
    const start = offset + BLOCK;
    if (meta) {
      if (size > MAX_EXTENDED_HEADER) throw badTar(`extended header of ${size} bytes at offset ${offset}`);
      const state = { type, bytes: new Uint8Array(size), have: 0, start, offset };
      if (size === 0) this.finishMeta(state);
      else this.meta = state;
      return;
    }
    const name = this.nextPath ?? headerPath(header);
    const linkName = this.nextLink ?? cString(header.subarray(157, 257));
    this.nextPath = this.nextLink = this.nextSize = undefined;
    // Old tars mark a directory by a trailing slash on a plain entry.
    const kind = type === '\0' && name.endsWith('/') ? 'directory' : (KINDS.get(type) ?? 'other');
    const mode = parseOctal(header.subarray(100, 108)) ?? 0;
    const entry: TarHeader = { name, path: unpackedPath(name, kind, offset), kind, type, linkName: kind === 'hardlink' || kind === 'symlink' ? linkName : '', mode: mode & 0o7777, size };
    this.dataLeft = size;
    this.padLeft = Math.ceil(size / BLOCK) * BLOCK - size;
    this.onEntry(entry, start);
  }

  private finishMeta(meta: { type: string; bytes: Uint8Array; start: number; offset: number }): void {
    this.meta = undefined;
    const { type, bytes: data, start, offset } = meta;
    this.padLeft = Math.ceil(data.length / BLOCK) * BLOCK - data.length;
    if (type === 'L') {
      if (this.nextPath !== undefined) throw badTar(`two long names for one entry at offset ${offset}`);
      this.nextPath = cString(data);
    } else if (type === 'K') {
      if (this.nextLink !== undefined) throw badTar(`two long link names for one entry at offset ${offset}`);
      this.nextLink = cString(data);
    } else {
      const pax = parsePax(data, start);
      for (const key of pax.keys()) {
        if (key.startsWith('GNU.sparse.')) throw badTar(`sparse file at offset ${offset}`);
        if (type === 'g' && RENAMING.has(key)) throw badTar(`global pax header at offset ${offset} sets "${key}" for every entry after it`);
      }
      if (type !== 'x') return;
      const path = pax.get('path');
      if (path !== undefined) {
        if (this.nextPath !== undefined) throw badTar(`two long names for one entry at offset ${offset}`);
        this.nextPath = path;
      }
      const link = pax.get('linkpath');
      if (link !== undefined) {
        if (this.nextLink !== undefined) throw badTar(`two long link names for one entry at offset ${offset}`);
        this.nextLink = link;
      }
      const size = pax.get('size');
      if (size !== undefined) this.nextSize = paxNumber(size, start);
    }
  }
}

/**
 * Lists the entries of an in-memory tar archive, each with the path GNU tar (which dpkg runs)
 * would unpack it to and its data as a view. Refuses, besides what TarParser refuses, a `..`
 * component, which GNU tar will not unpack.
 */
export function readTar(archive: Uint8Array): TarEntry[] {
  const entries: TarEntry[] = [];
  const parser = new TarParser((header, start) => {
    if (header.path.split('/').includes('..')) throw badPackage('unsafe-tar-path', `tar entry ${JSON.stringify(header.name)} has a ".." in its path`);
    entries.push({ ...header, data: archive.subarray(start, start + header.size) });
  });
  parser.push(archive);
  parser.end();
  return entries;
}

/** The path GNU tar extracts `name` to, relative to the directory it unpacks into. */
function unpackedPath(name: string, kind: TarEntryKind, offset: number): string {
  if (name === '') throw badTar(`entry without a name at offset ${offset}`);
  // GNU tar fails on a file whose name says it is a directory.
  if (name.endsWith('/') && kind !== 'directory') throw badTar(`${JSON.stringify(name)} at offset ${offset} is not a directory but its name ends in "/"`);
  return name
    .split('/')
    .filter((part) => part !== '' && part !== '.')
    .join('/');
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
