// A .xz decoder in plain TypeScript, for members held in memory.
//
// Why not a library: every xz decoder on npm either compiles WebAssembly from embedded bytes at run
// time (xz-decompress, node-liblzma's browser build, @napi-rs/lzma's WASI build), which a Worker
// isolate forbids, or is tied to Node (xz-compat: Buffer, streams, path, and a native add-on it
// installs at run time), or reads only the older .lzma format (lzma, lzma1, lzma-purejs). Debian's
// control.tar.xz needs only the xz container and the LZMA2 filter, which fit in this one file.
//
// It follows the .xz file format specification (tukaani.org/xz/xz-file-format.txt) and the LZMA
// decoder as in Igor Pavlov's LZMA specification (LzmaSpec.cpp, public domain), with XZ Embedded's
// rules for LZMA2 chunks. Since the whole member is in memory, the output buffer is the dictionary:
// a match reads straight from what was already decoded, and no window is allocated beyond the
// output, so a stream declaring a 4 GiB dictionary costs nothing. LZMA2 declares each chunk's size
// (at most 2 MiB) before it, so the output limit is enforced before a chunk is decoded.

/** The data is not valid xz, or uses a feature this decoder leaves out (a BCJ or delta filter). */
export class XzError extends Error {}

/** Decoding would produce more than the limit; thrown before the chunk that would pass it. */
export class XzLimitError extends Error {}

const MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const FILTER_LZMA2 = 0x21;
const CHECK_NONE = 0;
const CHECK_CRC32 = 1;
const CHECK_CRC64 = 4;
const CHECK_SHA256 = 10;
/** Check field sizes by check id; only ids 0, 1, 4 and 10 are defined (and verified here). */
const CHECK_SIZE = [0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64];

const damaged = () => new XzError('damaged data');
const truncated = () => new XzError('truncated data');
const unsupported = () => new XzError('unsupported options');

/**
 * Decodes one or more concatenated .xz streams (with stream padding between them, as `xz -d`
 * accepts), verifying every header, index, CRC32, CRC64 and SHA-256 check. Throws XzLimitError
 * rather than produce more than `maxBytes`, and XzError for anything else.
 */
export async function unxz(data: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  const out = new Output(maxBytes, data.length);
  const sha256Checks: { start: number; end: number; expected: Uint8Array }[] = [];
  const reader = new Reader(data);
  const lzma = new LzmaDecoder();
  if (!startsWithMagic(data, 0)) throw new XzError('not xz data');
  for (;;) {
    decodeStream(reader, out, lzma, sha256Checks);
    // Stream padding: null bytes in fours; then either the end or another stream.
    while (reader.pos + 4 <= data.length && (data[reader.pos]! | data[reader.pos + 1]! | data[reader.pos + 2]! | data[reader.pos + 3]!) === 0) {
      reader.pos += 4;
    }
    if (reader.pos === data.length) break;
    if (!startsWithMagic(data, reader.pos)) throw new XzError('trailing garbage');
  }
  for (const check of sha256Checks) {
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', out.buf.subarray(check.start, check.end)));
    if (!digest.every((b, i) => b === check.expected[i])) throw damaged();
  }
  return out.pos === out.buf.length ? out.buf : out.buf.slice(0, out.pos);
}

function startsWithMagic(data: Uint8Array, pos: number): boolean {
  return MAGIC.every((b, i) => data[pos + i] === b);
}

class Reader {
  pos = 0;
  constructor(readonly data: Uint8Array) {}

  need(n: number): void {
    if (this.pos + n > this.data.length) throw truncated();
  }

  byte(): number {
    this.need(1);
    return this.data[this.pos++]!;
  }

  u32(): number {
    this.need(4);
    const d = this.data;
    const p = this.pos;
    this.pos += 4;
    return (d[p]! | (d[p + 1]! << 8) | (d[p + 2]! << 16) | (d[p + 3]! << 24)) >>> 0;
  }

  /** A multibyte integer: 7 bits a byte, least significant first, at most 9 bytes, no padding. */
  varint(end = this.data.length): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 9; i++) {
      if (this.pos >= end) throw this.pos >= this.data.length ? truncated() : damaged();
      const b = this.data[this.pos++]!;
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) throw damaged();
        return value;
      }
      scale *= 128;
    }
    throw damaged();
  }
}

/** Decoded bytes so far: grows by doubling, never past the limit. */
class Output {
  buf: Uint8Array<ArrayBuffer>;
  pos = 0;

  constructor(
    private readonly maxBytes: number,
    inputLength: number,
  ) {
    this.buf = new Uint8Array(Math.min(maxBytes, Math.max(64 * 1024, inputLength * 4)));
  }

  /** Makes room for `n` more bytes, or throws if that would pass the limit. */
  reserve(n: number): void {
    const end = this.pos + n;
    if (end > this.maxBytes) throw new XzLimitError(`decompresses to more than ${this.maxBytes} bytes`);
    if (end <= this.buf.length) return;
    const grown = new Uint8Array(Math.min(this.maxBytes, Math.max(end, this.buf.length * 2)));
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
  }
}

function decodeStream(r: Reader, out: Output, lzma: LzmaDecoder, sha256Checks: { start: number; end: number; expected: Uint8Array }[]): void {
  // Stream header: magic, two flag bytes (0, check id), CRC32 of the flags.
  r.need(12);
  const flagsAt = r.pos + 6;
  r.pos += 8;
  if (crc32(r.data, flagsAt, flagsAt + 2) !== r.u32()) throw damaged();
  const checkId = r.data[flagsAt + 1]!;
  if (r.data[flagsAt] !== 0 || checkId > 0x0f) throw unsupported();
  if (checkId !== CHECK_NONE && checkId !== CHECK_CRC32 && checkId !== CHECK_CRC64 && checkId !== CHECK_SHA256) {
    throw new XzError('unsupported integrity check');
  }
  const checkSize = CHECK_SIZE[checkId]!;
  const records: number[] = []; // unpadded size, uncompressed size, per block

  // Blocks, until the index indicator (a zero byte where a block header size would be).
  for (;;) {
    const blockStart = r.pos;
    const sizeByte = r.byte();
    if (sizeByte === 0) break;
    const headerSize = (sizeByte + 1) * 4;
    r.pos = blockStart;
    r.need(headerSize);
    const headerEnd = blockStart + headerSize - 4;
    r.pos = headerEnd;
    if (crc32(r.data, blockStart, headerEnd) !== r.u32()) throw damaged();
    r.pos = blockStart + 1;
    const flags = r.byte();
    if (flags & 0x3c) throw unsupported();
    const compressedSize = flags & 0x40 ? r.varint(headerEnd) : -1;
    const uncompressedSize = flags & 0x80 ? r.varint(headerEnd) : -1;
    const filters = (flags & 3) + 1;
    let dictSize = 0;
    for (let i = 0; i < filters; i++) {
      const id = r.varint(headerEnd);
      const propsSize = r.varint(headerEnd);
      // Only LZMA2, which must be last, with its one-byte dictionary size.
      if (id !== FILTER_LZMA2 || i !== filters - 1 || propsSize !== 1) throw unsupported();
      if (r.pos >= headerEnd) throw damaged();
      const props = r.byte();
      if (props > 40) throw unsupported();
      dictSize = props === 40 ? 0xffffffff : (2 | (props & 1)) * 2 ** ((props >> 1) + 11);
    }
    while (r.pos < headerEnd) if (r.byte() !== 0) throw unsupported();
    r.pos = headerEnd + 4;

    const dataStart = r.pos;
    const outStart = out.pos;
    decodeLzma2(r, out, lzma, dictSize);
    const compressed = r.pos - dataStart;
    const uncompressed = out.pos - outStart;
    if ((compressedSize >= 0 && compressed !== compressedSize) || (uncompressedSize >= 0 && uncompressed !== uncompressedSize)) {
      throw damaged();
    }
    while ((r.pos - blockStart) & 3) if (r.byte() !== 0) throw damaged();
    r.need(checkSize);
    verifyCheck(checkId, r, out.buf, outStart, out.pos, sha256Checks);
    r.pos += checkSize;
    records.push(headerSize + compressed + checkSize, uncompressed);
  }

  // Index: the indicator (already read), the record count, the records, padding, CRC32.
  const indexStart = r.pos - 1;
  if (r.varint() !== records.length / 2) throw damaged();
  for (const expected of records) if (r.varint() !== expected) throw damaged();
  while ((r.pos - indexStart) & 3) if (r.byte() !== 0) throw damaged();
  const indexEnd = r.pos;
  if (crc32(r.data, indexStart, indexEnd) !== r.u32()) throw damaged();
  const indexSize = r.pos - indexStart;

  // Stream footer: CRC32 of what follows it, the index size, the header's flags again, "YZ".
  r.need(12);
  const footer = r.pos;
  const crc = r.u32();
  if (crc32(r.data, footer + 4, footer + 10) !== crc) throw damaged();
  if ((r.u32() + 1) * 4 !== indexSize) throw damaged();
  const d = r.data;
  if (d[footer + 8] !== 0 || d[footer + 9] !== checkId || d[footer + 10] !== 0x59 || d[footer + 11] !== 0x5a) throw damaged();
  r.pos = footer + 12;
}

function verifyCheck(
  checkId: number,
  r: Reader,
  buf: Uint8Array,
  start: number,
  end: number,
  sha256Checks: { start: number; end: number; expected: Uint8Array }[],
): void {
  const d = r.data;
  const p = r.pos;
  const le32 = (at: number) => (d[at]! | (d[at + 1]! << 8) | (d[at + 2]! << 16) | (d[at + 3]! << 24)) >>> 0;
  if (checkId === CHECK_CRC32) {
    if (crc32(buf, start, end) !== le32(p)) throw damaged();
  } else if (checkId === CHECK_CRC64) {
    const [lo, hi] = crc64(buf, start, end);
    if (lo !== le32(p) || hi !== le32(p + 4)) throw damaged();
  } else if (checkId === CHECK_SHA256) {
    // Web Crypto is asynchronous: checked once the whole input is decoded.
    sha256Checks.push({ start, end, expected: d.slice(p, p + 32) });
  }
}

function decodeLzma2(r: Reader, out: Output, lzma: LzmaDecoder, dictSize: number): void {
  let needDictReset = true;
  let needProps = true;
  lzma.dictSize = dictSize;
  for (;;) {
    const control = r.byte();
    if (control === 0x00) return;
    if (control >= 0xe0 || control === 0x01) {
      needProps = true;
      needDictReset = false;
      lzma.dictStart = out.pos;
    } else if (needDictReset) {
      throw damaged();
    }
    if (control >= 0x80) {
      // LZMA chunk: sizes, then new properties if the control byte says so.
      r.need(4);
      const d = r.data;
      const p = r.pos;
      const size = (control & 0x1f) * 65536 + ((d[p]! << 8) | d[p + 1]!) + 1;
      const packed = ((d[p + 2]! << 8) | d[p + 3]!) + 1;
      r.pos += 4;
      if (control >= 0xc0) {
        needProps = false;
        lzma.setProperties(r.byte());
        lzma.resetState();
      } else if (needProps) {
        throw damaged();
      } else if (control >= 0xa0) {
        lzma.resetState();
      }
      out.reserve(size);
      r.need(packed);
      lzma.decodeChunk(r.data, r.pos, r.pos + packed, out, out.pos + size);
      r.pos += packed;
    } else if (control <= 0x02) {
      // Uncompressed chunk, copied into the dictionary as it is.
      r.need(2);
      const size = ((r.data[r.pos]! << 8) | r.data[r.pos + 1]!) + 1;
      r.pos += 2;
      out.reserve(size);
      r.need(size);
      out.buf.set(r.data.subarray(r.pos, r.pos + size), out.pos);
      out.pos += size;
      r.pos += size;
    } else {
      throw damaged();
    }
  }
}

// Probability array layout: one Uint16Array for every model, as offsets.
const IS_MATCH = 0; // [state << 4 | posState]
const IS_REP = IS_MATCH + 192;
const IS_REP_G0 = IS_REP + 12;
const IS_REP_G1 = IS_REP_G0 + 12;
const IS_REP_G2 = IS_REP_G1 + 12;
const IS_REP0_LONG = IS_REP_G2 + 12; // [state << 4 | posState]
const POS_SLOT = IS_REP0_LONG + 192; // 4 trees of 64
const SPEC_POS = POS_SLOT + 256; // 115, reverse trees for distance slots 4..13
const ALIGN = SPEC_POS + 115; // 16
const LEN_CODER_SIZE = 2 + 16 * 8 + 16 * 8 + 256; // choice, choice2, low[16][8], mid[16][8], high[256]
const LEN = ALIGN + 16;
const REP_LEN = LEN + LEN_CODER_SIZE;
const LITERAL = REP_LEN + LEN_CODER_SIZE; // 0x300 per literal state, up to 16 states (lc + lp <= 4)
const PROBS = LITERAL + 0x300 * 16;
const TOP = 0x1000000;

/** LZMA as LZMA2 uses it: state kept across chunks, a new range coder for each chunk. */
class LzmaDecoder {
  dictSize = 0;
  /** Output position of the last dictionary reset: matches may not reach before it. */
  dictStart = 0;
  private lc = 0;
  private lpMask = 0;
  private pbMask = 0;
  private probsUsed = LITERAL;
  private readonly probs = new Uint16Array(PROBS);
  private state = 0;
  private rep0 = 0;
  private rep1 = 0;
  private rep2 = 0;
  private rep3 = 0;
  // Range decoder, reset for every chunk.
  private input: Uint8Array = new Uint8Array(0);
  private inPos = 0;
  private inEnd = 0;
  private range = 0;
  private code = 0;

  setProperties(props: number): void {
    if (props >= 9 * 5 * 5) throw damaged();
    const lc = props % 9;
    const lp = Math.floor(props / 9) % 5;
    const pb = Math.floor(props / 45);
    if (lc + lp > 4) throw damaged();
    this.lc = lc;
    this.lpMask = (1 << lp) - 1;
    this.pbMask = (1 << pb) - 1;
    this.probsUsed = LITERAL + (0x300 << (lc + lp));
  }

  resetState(): void {
    this.probs.fill(1024, 0, this.probsUsed);
    this.state = 0;
    this.rep0 = this.rep1 = this.rep2 = this.rep3 = 0;
  }

  /** Decodes one chunk of input[start, end) into out until out.pos reaches outEnd (reserved). */
  decodeChunk(input: Uint8Array, start: number, end: number, out: Output, outEnd: number): void {
    if (end - start < 5 || input[start] !== 0) throw damaged();
    this.input = input;
    this.inEnd = end;
    this.range = 0xffffffff;
    this.code = ((input[start + 1]! << 24) | (input[start + 2]! << 16) | (input[start + 3]! << 8) | input[start + 4]!) >>> 0;
    this.inPos = start + 5;
    if (this.code === this.range) throw damaged();

    const buf = out.buf;
    const dictStart = this.dictStart;
    const lc = this.lc;
    const lpMask = this.lpMask;
    const pbMask = this.pbMask;
    let state = this.state;
    let rep0 = this.rep0;
    let rep1 = this.rep1;
    let rep2 = this.rep2;
    let rep3 = this.rep3;
    let pos = out.pos;

    while (pos < outEnd) {
      const posState = (pos - dictStart) & pbMask;
      if (this.bit(IS_MATCH + (state << 4) + posState) === 0) {
        const prev = pos > dictStart ? buf[pos - 1]! : 0;
        const base = LITERAL + 0x300 * ((((pos - dictStart) & lpMask) << lc) + (prev >> (8 - lc)));
        let symbol = 1;
        if (state >= 7) {
          let matchByte = buf[pos - rep0 - 1]!;
          do {
            const matchBit = (matchByte >> 7) & 1;
            matchByte <<= 1;
            const bit = this.bit(base + ((1 + matchBit) << 8) + symbol);
            symbol = (symbol << 1) | bit;
            if (matchBit !== bit) break;
          } while (symbol < 0x100);
        }
        while (symbol < 0x100) symbol = (symbol << 1) | this.bit(base + symbol);
        buf[pos++] = symbol - 0x100;
        state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
        continue;
      }

      let len: number;
      if (this.bit(IS_REP + state) === 0) {
        len = this.length(LEN, posState);
        state = state < 7 ? 7 : 10;
        const dist = this.distance(len);
        // 0xFFFFFFFF is LZMA's end marker, which LZMA2 does not allow; a bad distance fails below.
        if (dist === 0xffffffff) throw damaged();
        rep3 = rep2;
        rep2 = rep1;
        rep1 = rep0;
        rep0 = dist;
      } else {
        if (pos === dictStart) throw damaged();
        if (this.bit(IS_REP_G0 + state) === 0) {
          if (this.bit(IS_REP0_LONG + (state << 4) + posState) === 0) {
            // Short rep: one byte from distance rep0.
            if (rep0 >= pos - dictStart) throw damaged();
            state = state < 7 ? 9 : 11;
            buf[pos] = buf[pos - rep0 - 1]!;
            pos++;
            continue;
          }
        } else {
          let dist: number;
          if (this.bit(IS_REP_G1 + state) === 0) {
            dist = rep1;
          } else {
            if (this.bit(IS_REP_G2 + state) === 0) {
              dist = rep2;
            } else {
              dist = rep3;
              rep3 = rep2;
            }
            rep2 = rep1;
          }
          rep1 = rep0;
          rep0 = dist;
        }
        len = this.length(REP_LEN, posState);
        state = state < 7 ? 8 : 11;
      }

      len += 2;
      if (rep0 >= pos - dictStart || rep0 >= this.dictSize || len > outEnd - pos) throw damaged();
      let from = pos - rep0 - 1;
      if (rep0 + 1 >= len) {
        buf.copyWithin(pos, from, from + len);
        pos += len;
      } else {
        for (const stop = pos + len; pos < stop; ) buf[pos++] = buf[from++]!;
      }
    }

    this.state = state;
    this.rep0 = rep0;
    this.rep1 = rep1;
    this.rep2 = rep2;
    this.rep3 = rep3;
    out.pos = pos;
    // The chunk must end exactly where its compressed size says, with the range coder flushed.
    if (this.inPos !== this.inEnd || this.code !== 0) throw damaged();
  }

  private bit(i: number): number {
    const p = this.probs[i]!;
    const bound = (this.range >>> 11) * p;
    let bit: number;
    if (this.code < bound) {
      this.range = bound;
      this.probs[i] = p + ((2048 - p) >> 5);
      bit = 0;
    } else {
      this.range -= bound;
      this.code -= bound;
      this.probs[i] = p - (p >> 5);
      bit = 1;
    }
    if (this.range < TOP) this.normalize();
    return bit;
  }

  private normalize(): void {
    this.range *= 256;
    // Past the chunk's end: read zeros, and the position check at the end of the chunk fails.
    this.code = this.code * 256 + (this.inPos < this.inEnd ? this.input[this.inPos]! : 0);
    this.inPos++;
  }

  private direct(count: number): number {
    let result = 0;
    for (let i = 0; i < count; i++) {
      this.range = this.range >>> 1;
      let bit = 0;
      if (this.code >= this.range) {
        this.code -= this.range;
        bit = 1;
      }
      result = result * 2 + bit;
      if (this.range < TOP) this.normalize();
    }
    return result;
  }

  private tree(base: number, bits: number): number {
    let m = 1;
    for (let i = 0; i < bits; i++) m = (m << 1) | this.bit(base + m);
    return m - (1 << bits);
  }

  private reverseTree(base: number, bits: number): number {
    let m = 1;
    let symbol = 0;
    for (let i = 0; i < bits; i++) {
      const bit = this.bit(base + m);
      m = (m << 1) | bit;
      symbol |= bit << i;
    }
    return symbol;
  }

  /** A match length minus 2. */
  private length(base: number, posState: number): number {
    if (this.bit(base) === 0) return this.tree(base + 2 + posState * 8, 3);
    if (this.bit(base + 1) === 0) return 8 + this.tree(base + 2 + 128 + posState * 8, 3);
    return 16 + this.tree(base + 2 + 256, 8);
  }

  /** A match distance minus 1, for a length (minus 2) of `len`. */
  private distance(len: number): number {
    const slot = this.tree(POS_SLOT + (len < 3 ? len : 3) * 64, 6);
    if (slot < 4) return slot;
    const directBits = (slot >> 1) - 1;
    let dist = (2 | (slot & 1)) * 2 ** directBits;
    if (slot < 14) return dist + this.reverseTree(SPEC_POS + dist - slot, directBits);
    dist += this.direct(directBits - 4) * 16;
    return dist + this.reverseTree(ALIGN, 4);
  }
}

const CRC32_TABLE = new Uint32Array(256);
const CRC64_LO = new Uint32Array(256);
const CRC64_HI = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
  let c = i;
  let lo = i;
  let hi = 0;
  for (let k = 0; k < 8; k++) {
    c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    // ECMA-182, reflected: 0xC96C5795D7870F42.
    const carry = lo & 1;
    lo = (lo >>> 1) | ((hi & 1) << 31);
    hi = hi >>> 1;
    if (carry) {
      lo ^= 0xd7870f42;
      hi ^= 0xc96c5795;
    }
  }
  CRC32_TABLE[i] = c >>> 0;
  CRC64_LO[i] = lo >>> 0;
  CRC64_HI[i] = hi >>> 0;
}

function crc32(data: Uint8Array, start: number, end: number): number {
  let crc = -1;
  for (let i = start; i < end; i++) crc = CRC32_TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

/** CRC64 as [low 32 bits, high 32 bits]. */
function crc64(data: Uint8Array, start: number, end: number): [number, number] {
  let lo = -1;
  let hi = -1;
  for (let i = start; i < end; i++) {
    const t = (lo ^ data[i]!) & 0xff;
    lo = CRC64_LO[t]! ^ ((lo >>> 8) | (hi << 24));
    hi = CRC64_HI[t]! ^ (hi >>> 8);
  }
  return [(lo ^ -1) >>> 0, (hi ^ -1) >>> 0];
}
