import { Decompress as ZstdDecompress } from 'fzstd';
import { PackyardError, badPackage } from '../errors.js';
import { XzLimitError, unxz } from './xz.js';
import { concatBytes } from '../bytes.js';
import type { Gunzip } from './compress.js';

export type Compression = 'none' | 'gz' | 'xz' | 'zst';

/** Input is fed in slices this small so one slice cannot inflate far past the limit before we notice. */
const SLICE = 4096;

/**
 * Decompresses a member held in memory, refusing to produce more than `maxBytes` (a zip-bomb guard).
 * Throws `decompressed-too-large` past the limit and `corrupt-compression` for any decoder failure.
 */
export async function decompress(data: Uint8Array, format: Compression, maxBytes: number, hostGunzip?: Gunzip): Promise<Uint8Array> {
  if (format === 'none') {
    if (data.length > maxBytes) throw tooLarge(maxBytes);
    return data;
  }
  if (data.length === 0) throw corrupt(format, 'no data');
  const out = new Output(maxBytes);
  try {
    if (format === 'gz' && hostGunzip) {
      const result = hostGunzip(data, maxBytes);
      if (!result) throw tooLarge(maxBytes);
      return result;
    }
    if (format === 'xz') return await unxz(data, maxBytes);
    if (format === 'zst') zstd(data, out, maxBytes);
    else await drain(gunzip(data), out);
  } catch (err) {
    if (err instanceof PackyardError) throw err;
    if (err instanceof XzLimitError) throw tooLarge(maxBytes);
    throw corrupt(format, err instanceof Error ? err.message : String(err));
  }
  return out.concat();
}

class Output {
  private readonly chunks: Uint8Array[] = [];
  private total = 0;
  constructor(private readonly maxBytes: number) {}

  add(chunk: Uint8Array): void {
    this.total += chunk.length;
    if (this.total > this.maxBytes) throw tooLarge(this.maxBytes);
    if (chunk.length > 0) this.chunks.push(chunk);
  }

  concat(): Uint8Array {
    return concatBytes(this.chunks, this.total);
  }
}

function gunzip(data: Uint8Array): ReadableStream<Uint8Array> {
  // The DOM typings insist on ArrayBuffer-backed chunks; ours are (never SharedArrayBuffer).
  const input = slices(data) as ReadableStream<Uint8Array<ArrayBuffer>>;
  return input.pipeThrough(new DecompressionStream('gzip'));
}

/** A pull-driven source, so the decoder takes input only as fast as its output is read. */
function slices(data: Uint8Array): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (offset >= data.length) return controller.close();
        controller.enqueue(data.subarray(offset, offset + SLICE));
        offset += SLICE;
      },
    },
    { highWaterMark: 0 },
  );
}

async function drain(stream: ReadableStream<Uint8Array>, out: Output): Promise<void> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      out.add(value);
    }
  } catch (err) {
    // Cancelling releases the decoder and its input.
    await reader.cancel().catch(() => {});
    throw err;
  }
}

function zstd(data: Uint8Array, out: Output, maxBytes: number): void {
  checkZstdWindows(data, maxBytes);
  const decoder = new ZstdDecompress((chunk) => out.add(chunk));
  for (let offset = 0; offset < data.length; offset += SLICE) {
    decoder.push(data.subarray(offset, offset + SLICE));
  }
  decoder.push(new Uint8Array(0), true);
}

/** zstd's window at levels up to 19; encoders often declare it even for small outputs. */
const ZSTD_USUAL_WINDOW = 8 * 1024 * 1024;

/**
 * fzstd allocates each frame's declared window up front (up to 2 GiB from a 20-byte frame), so walk
 * the frames first and refuse a window beyond both the output limit and the usual 8 MiB.
 */
function checkZstdWindows(data: Uint8Array, maxBytes: number): void {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let pos = 0;
  // Throws unless n more bytes are there (n = 0: unless pos is still inside the data).
  const need = (n: number) => {
    if (pos + n > data.length) throw corrupt('zst', 'unexpected end of data');
  };
  while (pos < data.length) {
    need(8);
    const magic = view.getUint32(pos, true);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      pos += 8 + view.getUint32(pos + 4, true); // skippable frame
      need(0);
      continue;
    }
    if (magic !== 0xfd2fb528) throw corrupt('zst', 'not a zstd frame');
    const descriptor = data[pos + 4]!;
    const singleSegment = (descriptor >> 5) & 1;
    const dictIdBytes = [0, 1, 2, 4][descriptor & 3]!;
    const contentSizeBytes = [singleSegment, 2, 4, 8][descriptor >> 6]!;
    pos += 5;
    let window: number;
    if (singleSegment) {
      need(dictIdBytes + contentSizeBytes);
      window = contentSize(view, pos + dictIdBytes, contentSizeBytes);
    } else {
      const exponent = 10 + (data[pos]! >> 3);
      window = 2 ** exponent + (2 ** exponent / 8) * (data[pos]! & 7);
      pos += 1;
    }
    const limit = Math.max(maxBytes, ZSTD_USUAL_WINDOW);
    if (window > limit) {
      throw badPackage('decompressed-too-large', `needs a ${window}-byte zstd window, over the limit of ${limit} bytes`);
    }
    pos += dictIdBytes + contentSizeBytes;
    for (let last = false; !last; ) {
      need(3);
      const block = data[pos]! | (data[pos + 1]! << 8) | (data[pos + 2]! << 16);
      last = (block & 1) === 1;
      const type = (block >> 1) & 3;
      if (type === 3) throw corrupt('zst', 'reserved block type');
      pos += 3 + (type === 1 ? 1 : block >>> 3);
    }
    if ((descriptor >> 2) & 1) pos += 4; // content checksum
    need(0);
  }
}

function contentSize(view: DataView, pos: number, bytes: number): number {
  if (bytes === 1) return view.getUint8(pos);
  if (bytes === 2) return view.getUint16(pos, true) + 256;
  if (bytes === 4) return view.getUint32(pos, true);
  return Number(view.getBigUint64(pos, true));
}

function tooLarge(maxBytes: number): PackyardError {
  return badPackage('decompressed-too-large', `decompresses to more than ${maxBytes} bytes`);
}

function corrupt(format: Compression, detail: string): PackyardError {
  const names = { none: 'uncompressed', gz: 'gzip', xz: 'xz', zst: 'zstd' };
  return badPackage('corrupt-compression', `corrupt ${names[format]} data (${detail})`);
}
