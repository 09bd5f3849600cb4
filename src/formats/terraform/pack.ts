import { gzipSync } from 'fflate';
import { badPackage } from '../../util/errors.js';
import { safePath } from './archive-paths.js';

export interface PackEntry {
  /** Relative, `/`-separated. */
  path: string;
  bytes: Uint8Array;
  /** Permission bits; default 0644. */
  mode?: number;
}

const BLOCK = 512;
const encoder = new TextEncoder();

// fflate gzips but writes no tar, and a writer for plain files is a few lines: hand-written here.

/**
 * A module directory's files as a `.tar.gz` that depends only on the files: sorted paths, mtime
 * 0, uid/gid 0, no owner names, a gzip header without time or name. The same directory packs to
 * the same bytes, so a re-publish of unchanged content is recognised as identical.
 */
export function packTarGz(entries: readonly PackEntry[]): Uint8Array {
  const sorted = entries.map((entry) => ({ ...entry, path: safePath(entry.path).join('/') })).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const blocks: Uint8Array[] = [];
  let previous: string | undefined;
  for (const entry of sorted) {
    if (entry.path === '') throw badPackage('unsafe-path', 'an entry to pack has an empty path');
    if (entry.path === previous) throw badPackage('duplicate-path', `${JSON.stringify(entry.path)} is given twice`);
    previous = entry.path;
    const name = encoder.encode(entry.path);
    let fields = splitName(name);
    if (!fields) {
      // Too long for ustar's name and prefix fields: a pax header carries the path.
      blocks.push(...record('x', encoder.encode('././@PaxHeader'), paxRecord('path', entry.path), 0o644));
      fields = { name: name.subarray(0, 100), prefix: new Uint8Array(0) };
    }
    blocks.push(...record('0', fields.name, entry.bytes, (entry.mode ?? 0o644) & 0o7777, fields.prefix));
  }
  blocks.push(new Uint8Array(BLOCK * 2)); // end-of-archive marker
  const tar = new Uint8Array(blocks.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const block of blocks) {
    tar.set(block, at);
    at += block.length;
  }
  return gzipSync(tar, { level: 9, mtime: 0 });
}

/** Splits a path over ustar's 155-byte prefix and 100-byte name at a `/`; undefined if it cannot fit. */
function splitName(name: Uint8Array): { name: Uint8Array; prefix: Uint8Array } | undefined {
  if (name.length <= 100) return { name, prefix: new Uint8Array(0) };
  for (let i = Math.min(name.length - 2, 155); i > 0; i--) {
    if (name[i] === 0x2f && name.length - i - 1 <= 100) return { prefix: name.subarray(0, i), name: name.subarray(i + 1) };
  }
  return undefined;
}

function paxRecord(key: string, value: string): Uint8Array {
  const body = encoder.encode(` ${key}=${value}\n`).length;
  // The length counts its own digits.
  let length = body + String(body).length;
  if (String(length).length !== String(body).length) length = body + String(length).length;
  return encoder.encode(`${length} ${key}=${value}\n`);
}

function record(type: string, name: Uint8Array, data: Uint8Array, mode: number, prefix: Uint8Array = new Uint8Array(0)): Uint8Array[] {
  const header = new Uint8Array(BLOCK);
  header.set(name, 0);
  header.set(octal(mode, 8), 100);
  header.set(octal(0, 8), 108); // uid
  header.set(octal(0, 8), 116); // gid
  header.set(octal(data.length, 12), 124);
  header.set(octal(0, 12), 136); // mtime
  header.fill(0x20, 148, 156); // checksum counts as spaces
  header[156] = type.charCodeAt(0);
  header.set(encoder.encode('ustar\u000000'), 257);
  header.set(prefix, 345);
  let sum = 0;
  for (const b of header) sum += b;
  header.set(encoder.encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
  const padded = new Uint8Array(Math.ceil(data.length / BLOCK) * BLOCK);
  padded.set(data);
  return [header, padded];
}

/** A NUL-terminated octal number filling `width` bytes. */
function octal(value: number, width: number): Uint8Array {
  const digits = value.toString(8).padStart(width - 1, '0');
  if (digits.length > width - 1) throw badPackage('too-large', `a file of ${value} bytes is too large to pack`);
  return encoder.encode(`${digits}\0`);
}
