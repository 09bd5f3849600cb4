// Archives built byte by byte for the tests: zips whose headers say what the test needs (a lying
// size, an overlapping entry), and deflate streams of a gigabyte of zeros made without holding it.
import { deflateRawSync, constants } from 'node:zlib';
import { gzipSync } from 'fflate';
import { concat } from '../../helpers/bytes.js';

const enc = new TextEncoder();

/** Raw deflate of `zeros` bytes of zeros (a multiple of 1 MiB) plus `prefix`, in about a thousandth of the size. */
export function deflatedZeros(zeros: number, prefix: Uint8Array = new Uint8Array(0)): Uint8Array {
  const sync = { finishFlush: constants.Z_SYNC_FLUSH };
  // Pieces ending at a sync flush are whole non-final blocks that reference nothing before them:
  // they can be repeated; a final empty fixed block (03 00) ends the stream.
  const piece = deflateRawSync(new Uint8Array(1 << 20), sync);
  const parts: Uint8Array[] = [deflateRawSync(prefix, sync)];
  for (let i = 0; i < zeros / (1 << 20); i++) parts.push(piece);
  parts.push(Uint8Array.of(0x03, 0x00));
  return concat(...parts);
}

/** A gzip member around raw deflate data (CRC and size left zero: whatever reads it should stop before it checks them). */
export function gzipWrap(deflated: Uint8Array): Uint8Array {
  return concat(Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3), deflated, new Uint8Array(8));
}

export function gz(bytes: Uint8Array): Uint8Array {
  return gzipSync(bytes, { mtime: 0 });
}

export interface RawZipEntry {
  name: string;
  /** The bytes stored: raw deflate when method is 8. */
  data: Uint8Array;
  method?: 0 | 8;
  size: number;
  crc: number;
  /** Unix mode (type and permissions): made on Unix when given. */
  mode?: number;
  /** Point this central entry at an earlier entry's local header instead of writing one. */
  sharesDataWith?: number;
}

/** A zip written from its parts, as a hostile or buggy writer might. */
export function rawZip(entries: RawZipEntry[]): Uint8Array {
  const locals: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  const offsets: number[] = [];
  let offset = 0;
  entries.forEach((entry, i) => {
    const name = enc.encode(entry.name);
    let at = offset;
    if (entry.sharesDataWith !== undefined) at = offsets[entry.sharesDataWith]!;
    else {
      const local = new Uint8Array(30 + name.length);
      const v = new DataView(local.buffer);
      v.setUint32(0, 0x04034b50, true);
      v.setUint16(4, 20, true);
      v.setUint16(8, entry.method ?? 0, true);
      v.setUint32(14, entry.crc, true);
      v.setUint32(18, entry.data.length, true);
      v.setUint32(22, entry.size, true);
      v.setUint16(26, name.length, true);
      local.set(name, 30);
      locals.push(local, entry.data);
      offset += local.length + entry.data.length;
    }
    offsets[i] = at;
    const c = new Uint8Array(46 + name.length);
    const v = new DataView(c.buffer);
    v.setUint32(0, 0x02014b50, true);
    v.setUint16(4, entry.mode !== undefined ? (3 << 8) | 20 : 20, true);
    v.setUint16(6, 20, true);
    v.setUint16(10, entry.method ?? 0, true);
    v.setUint32(16, entry.crc, true);
    v.setUint32(20, entry.data.length, true);
    v.setUint32(24, entry.size, true);
    v.setUint16(28, name.length, true);
    v.setUint32(38, ((entry.mode ?? 0) << 16) >>> 0, true);
    v.setUint32(42, at, true);
    c.set(name, 46);
    central.push(c);
  });
  const cd = concat(...central);
  const end = new Uint8Array(22);
  const v = new DataView(end.buffer);
  v.setUint32(0, 0x06054b50, true);
  v.setUint16(8, entries.length, true);
  v.setUint16(10, entries.length, true);
  v.setUint32(12, cd.length, true);
  v.setUint32(16, offset, true);
  return concat(...locals, cd, end);
}

/** CRC-32 as zip and gzip use it. */
export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
