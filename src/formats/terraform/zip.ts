import { Inflate } from 'fflate';
import { badPackage, PackyardError } from '../../util/errors.js';

// fflate inflates, but its zip readers give neither the external attributes (where a zip keeps
// Unix modes, hence symbolic links and devices) nor a way to inflate one entry with a bound on
// its output; so the central directory is read here and each entry is inflated with fflate's
// streaming Inflate.

/** One entry of a zip's central directory. */
export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated (the only two read). */
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  /** The Unix mode (type and permission bits) when the zip was made on Unix, else undefined. */
  mode?: number;
  /** MS-DOS directory attribute or a name ending in `/`. */
  directory: boolean;
  localOffset: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
/** Deflate output of one fflate push is at most about 1032 × its input: small pushes bound memory. */
const INFLATE_STEP = 4096;

/** The entries a zip's central directory lists. */
export function zipEntries(zip: Uint8Array): ZipEntry[] {
  try {
    return readIndex(zip);
  } catch (err) {
    // A field that points past the end of the file (a crafted zip64 extra): a bad zip, not a failure of ours.
    if (err instanceof RangeError) throw badZip(`a field points outside the file (${err.message})`);
    throw err;
  }
}

function readIndex(zip: Uint8Array): ZipEntry[] {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const u16 = (at: number) => view.getUint16(at, true);
  const u32 = (at: number) => view.getUint32(at, true);
  const u64 = (at: number) => Number(view.getBigUint64(at, true));
  const eocd = findEndRecord(zip, view);
  if (u16(eocd + 4) !== 0 || u16(eocd + 6) !== 0) throw badZip('multi-disk zips are not read');
  let count = u16(eocd + 10);
  let cdSize = u32(eocd + 12);
  let cdOffset = u32(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    // Zip64: the locator sits just before the end record and points at the zip64 end record.
    const locator = eocd - 20;
    if (locator < 0 || u32(locator) !== 0x07064b50) throw badZip('zip64 end record locator missing');
    const record = u64(locator + 8);
    if (record + 56 > zip.length || u32(record) !== 0x06064b50) throw badZip('zip64 end record missing');
    count = u64(record + 32);
    cdSize = u64(record + 40);
    cdOffset = u64(record + 48);
  }
  if (cdOffset + cdSize > zip.length) throw badZip('central directory lies outside the file');
  const entries: ZipEntry[] = [];
  let pos = cdOffset;
  for (let i = 0; i < count; i++) {
    if (pos + 46 > cdOffset + cdSize || u32(pos) !== 0x02014b50) throw badZip(`central directory entry ${i} is malformed`);
    const madeBy = u16(pos + 4);
    const flags = u16(pos + 8);
    const method = u16(pos + 10);
    const nameLength = u16(pos + 28);
    const extraLength = u16(pos + 30);
    const commentLength = u16(pos + 32);
    const external = u32(pos + 38);
    let compressedSize = u32(pos + 20);
    let size = u32(pos + 24);
    let localOffset = u32(pos + 42);
    const next = pos + 46 + nameLength + extraLength + commentLength;
    if (next > cdOffset + cdSize) throw badZip(`central directory entry ${i} is malformed`);
    let name: string;
    try {
      name = utf8.decode(zip.subarray(pos + 46, pos + 46 + nameLength));
    } catch {
      throw badZip(`entry ${i} has a name that is not UTF-8`);
    }
    // Zip64 extra field: 64-bit values for exactly the fields saturated above, in this order.
    for (let at = pos + 46 + nameLength; at + 4 <= pos + 46 + nameLength + extraLength; ) {
      const id = u16(at);
      const length = u16(at + 2);
      if (id === 0x0001) {
        let field = at + 4;
        const take = () => {
          if (field + 8 > at + 4 + length) throw badZip(`entry ${JSON.stringify(name)} has a short zip64 field`);
          const value = u64(field);
          field += 8;
          return value;
        };
        if (size === 0xffffffff) size = take();
        if (compressedSize === 0xffffffff) compressedSize = take();
        if (localOffset === 0xffffffff) localOffset = take();
      }
      at += 4 + length;
    }
    if (flags & 1) throw badZip(`entry ${JSON.stringify(name)} is encrypted`);
    if (method !== 0 && method !== 8) throw badZip(`entry ${JSON.stringify(name)} uses compression method ${method} (only stored and deflate are read)`);
    const unixMode = madeBy >> 8 === 3 ? external >>> 16 : 0;
    entries.push({
      name,
      method,
      crc: u32(pos + 16),
      compressedSize,
      size,
      mode: unixMode || undefined,
      directory: name.endsWith('/') || (external & 0x10) !== 0 || (unixMode & 0o170000) === 0o040000,
      localOffset,
    });
    pos = next;
  }
  return entries;
}

/**
 * Inflates one entry in chunks (a few MiB at most each); refuses data that is cut, larger or
 * smaller than the central directory says, or whose CRC-32 differs. The caller may stop early
 * (a size budget) by throwing or leaving the loop.
 */
export function* inflateChunks(zip: Uint8Array, entry: ZipEntry): Generator<Uint8Array> {
  const at = entry.localOffset;
  if (at + 30 > zip.length || new DataView(zip.buffer, zip.byteOffset + at, 30).getUint32(0, true) !== 0x04034b50) {
    throw badZip(`local header of ${JSON.stringify(entry.name)} is missing`);
  }
  const local = new DataView(zip.buffer, zip.byteOffset + at, 30);
  const start = at + 30 + local.getUint16(26, true) + local.getUint16(28, true);
  if (start + entry.compressedSize > zip.length) throw badZip(`data of ${JSON.stringify(entry.name)} is cut`);
  const data = zip.subarray(start, start + entry.compressedSize);
  let seen = 0;
  let crc = 0xffffffff;
  const check = (chunk: Uint8Array) => {
    seen += chunk.length;
    if (seen > entry.size) throw badZip(`${JSON.stringify(entry.name)} inflates to more than the ${entry.size} bytes its header says`);
    crc = crc32(crc, chunk);
    return chunk;
  };
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.size) throw badZip(`stored entry ${JSON.stringify(entry.name)} has two sizes`);
    for (let i = 0; i < data.length; i += 1 << 16) yield check(data.subarray(i, i + (1 << 16)));
  } else {
    let pending: Uint8Array[] = [];
    const inflate = new Inflate((chunk) => void pending.push(check(chunk)));
    for (let i = 0; i === 0 || i < data.length; i += INFLATE_STEP) {
      try {
        inflate.push(data.subarray(i, i + INFLATE_STEP), i + INFLATE_STEP >= data.length);
      } catch (err) {
        if (err instanceof PackyardError) throw err;
        throw badZip(`data of ${JSON.stringify(entry.name)} does not inflate (${err instanceof Error ? err.message : String(err)})`);
      }
      const out = pending;
      pending = [];
      yield* out;
    }
  }
  if (seen !== entry.size) throw badZip(`${JSON.stringify(entry.name)} inflates to ${seen} bytes, not the ${entry.size} its header says`);
  if ((crc ^ 0xffffffff) >>> 0 !== entry.crc) throw badZip(`${JSON.stringify(entry.name)} fails its CRC-32 check`);
}

/** inflateChunks, handing each chunk to `onData`. */
export function inflateEntry(zip: Uint8Array, entry: ZipEntry, onData: (chunk: Uint8Array) => void): void {
  for (const chunk of inflateChunks(zip, entry)) onData(chunk);
}

function findEndRecord(zip: Uint8Array, view: DataView): number {
  // The end record is 22 bytes plus a comment of at most 65535.
  for (let at = zip.length - 22; at >= Math.max(0, zip.length - 22 - 0xffff); at--) {
    if (view.getUint32(at, true) === 0x06054b50 && at + 22 + view.getUint16(at + 20, true) === zip.length) return at;
  }
  throw badZip('no end of central directory record');
}

// fflate keeps its CRC-32 internal; this is the standard table-driven one (polynomial 0xEDB88320).
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(crc: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return crc >>> 0;
}

function badZip(detail: string) {
  return badPackage('bad-archive', `bad zip archive: ${detail}`);
}
