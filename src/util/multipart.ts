// Hand-written: the maintained parsers (@remix-run/multipart-parser, @mjackson/multipart-parser) buffer each part whole in memory, but our parts are multi-GiB package files that must stream to storage in constant memory (web standards only, so it also runs in Workers).
import { PackyardError } from './errors.js';

/** One `multipart/form-data` part. */
export interface MultipartPart {
  /** From Content-Disposition `name=`. */
  name: string;
  /** From `filename*=` (RFC 5987, UTF-8 or ISO-8859-1) if present and decodable, else `filename=`.
   *  Returned as sent: no path stripping, and browsers' %22/%0D%0A escapes are not undone. */
  filename?: string;
  /** The part's Content-Type header value, as sent (trimmed). */
  contentType?: string;
  /** The part's bytes, streamed. Must be fully read (or cancelled) before the iterator yields the
   *  next part; if it is not, advancing the iterator drains what is left, and if that discards
   *  any bytes the stream errors (nobody gets a silently short file). Errors with the parser's
   *  error if the body turns out to be malformed or truncated while it is being read. */
  body: ReadableStream<Uint8Array>;
}

export interface MultipartLimits {
  /** Most parts accepted (default 1000). */
  maxParts?: number;
  /** Most bytes in one part's header block (default 8 KiB). */
  maxHeaderBytes?: number;
}

const DEFAULT_MAX_PARTS = 1000;
const DEFAULT_MAX_HEADER_BYTES = 8 * 1024;

const CR = 13;
const LF = 10;
const DASH = 45;
const SP = 32;
const HT = 9;

function bad(message: string): PackyardError {
  return new PackyardError(400, 'bad-multipart', message);
}

// RFC 2046 §5.1.1: boundary := 0*69<bchars> bcharsnospace, 1 to 70 characters.
const BOUNDARY_RE = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

/**
 * The boundary of a `multipart/form-data` Content-Type (quoted or not), or null if the type is
 * something else, has no boundary, or the boundary is not a valid RFC 2046 boundary.
 */
export function boundaryOf(contentType: string | null): string | null {
  if (contentType === null) return null;
  const semi = contentType.indexOf(';');
  const type = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (type !== 'multipart/form-data' || semi === -1) return null;
  let params: Map<string, string>;
  try {
    params = parseParams(contentType, semi);
  } catch {
    return null;
  }
  const boundary = params.get('boundary');
  return boundary !== undefined && BOUNDARY_RE.test(boundary) ? boundary : null;
}

/**
 * Parses a `multipart/form-data` body as it streams, yielding each part with its bytes as a
 * stream. Memory is bounded by the source's chunk size plus the header limit, whatever the
 * size of the parts. Throws (and errors the current part's body with) a 400 `bad-multipart`
 * PackyardError on malformed input; errors of the source stream pass through as they are.
 *
 * The source is never cancelled (on Node, cancelling a request body resets the connection,
 * so the error response would be lost); its reader lock is released when the generator
 * finishes, or, if the consumer stops iterating while holding an unfinished part, once that
 * part's body has been read or cancelled. Anything after the closing delimiter is not read.
 */
export async function* parseMultipart(
  body: ReadableStream<Uint8Array>,
  boundary: string,
  limits: MultipartLimits = {},
): AsyncGenerator<MultipartPart> {
  if (!BOUNDARY_RE.test(boundary)) throw bad('invalid multipart boundary');
  const maxParts = limits.maxParts ?? DEFAULT_MAX_PARTS;
  const maxHeaderBytes = limits.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  if (!(Number.isInteger(maxParts) && maxParts >= 0)) throw new RangeError('maxParts must be a non-negative integer');
  if (!(Number.isInteger(maxHeaderBytes) && maxHeaderBytes > 0)) {
    throw new RangeError('maxHeaderBytes must be a positive integer');
  }

  const parser = new Parser(body.getReader(), boundary, maxHeaderBytes);
  let current: PartState | null = null;
  try {
    await parser.skipPreamble();
    let count = 0;
    while (true) {
      if (await parser.atCloseDelimiter()) return;
      if (++count > maxParts) throw bad(`too many parts (more than ${maxParts})`);
      const headers = await parser.readHeaders();
      current = parser.openPart();
      yield { ...headers, body: current.stream };
      await parser.finishPart(current);
      current = null;
    }
  } finally {
    if (current !== null && !current.done && current.error === undefined) {
      // The consumer stopped iterating but may still read this part's body (e.g. `break` on
      // the file it wanted, then store it): keep the reader until that body ends.
      parser.releaseAfter(current);
    } else {
      parser.release();
    }
  }
}

interface PartState {
  stream: ReadableStream<Uint8Array>;
  controller: ReadableStreamDefaultController<Uint8Array>;
  /** The part's closing delimiter has been consumed. */
  done: boolean;
  /** The consumer cancelled the body. */
  cancelled: boolean;
  /** What the body failed with, if it did. */
  error: unknown;
}

const EMPTY = new Uint8Array(0);
const utf8 = new TextDecoder('utf-8');

class Parser {
  /** Unconsumed input: a view of a source chunk, or of `store` when bytes had to be joined. */
  private buf: Uint8Array = new Uint8Array([CR, LF]); // so a delimiter at the very start is found
  /** Scratch area that `buf` points into when it is owned; only ever appended past buf's end,
   *  so views of it already handed out as body chunks are never overwritten. */
  private store: Uint8Array | null = null;
  private eof = false;
  /** The delimiter: CRLF "--" boundary. */
  private readonly delim: Uint8Array;
  /** Horspool shift for each pair of bytes ending the search window (64 KiB table). */
  private readonly skip: Uint8Array;
  /** Serialises source reads between a part's body stream and the generator. */
  private queue: Promise<unknown> = Promise.resolve();
  private released = false;
  private releaseWhenDone: PartState | null = null;

  constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    boundary: string,
    private readonly maxHeaderBytes: number,
  ) {
    const delim = new Uint8Array(boundary.length + 4);
    delim.set([CR, LF, DASH, DASH]);
    for (let i = 0; i < boundary.length; i++) delim[i + 4] = boundary.charCodeAt(i);
    this.delim = delim;
    // A window whose last two bytes occur nowhere else in the delimiter can shift by all but
    // one byte (the last byte may still start a delimiter); otherwise align their last
    // occurrence before the end. At most 73: fits a byte.
    const last = delim.length - 1;
    this.skip = new Uint8Array(65536).fill(last);
    for (let k = 0; k + 1 < last; k++) this.skip[(delim[k]! << 8) | delim[k + 1]!] = last - 1 - k;
  }

  // ---- input -------------------------------------------------------------------------

  /** The next non-empty source chunk, or null at end of input. */
  private async read(): Promise<Uint8Array | null> {
    if (this.eof) return null;
    while (true) {
      const { done, value } = await this.reader.read();
      if (done) {
        this.eof = true;
        return null;
      }
      let chunk: Uint8Array = value;
      if (!(chunk instanceof Uint8Array)) {
        if (!ArrayBuffer.isView(chunk)) throw new TypeError('multipart body chunks must be Uint8Arrays');
        const view = chunk as ArrayBufferView;
        chunk = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
      }
      if (chunk.length > 0) return chunk;
    }
  }

  /** Appends the next non-empty source chunk to `buf`; false at end of input. */
  private async more(): Promise<boolean> {
    const chunk = await this.read();
    if (chunk === null) return false;
    this.append(chunk);
    return true;
  }

  private append(chunk: Uint8Array): void {
    const buf = this.buf;
    if (buf.length === 0) {
      this.buf = chunk; // the common case in a body: no carry-over, no copy
      return;
    }
    const need = buf.length + chunk.length;
    const store = this.store;
    if (store !== null && buf.buffer === store.buffer) {
      const start = buf.byteOffset - store.byteOffset;
      if (start + need <= store.length) {
        store.set(chunk, start + buf.length);
        this.buf = store.subarray(start, start + need);
        return;
      }
    }
    // Grow geometrically while small (headers arriving a few bytes at a time stay linear);
    // a carry-over joined to a big chunk gets exactly what it needs.
    const next = new Uint8Array(need <= 32 * 1024 ? Math.max(need * 2, 256) : need);
    next.set(buf, 0);
    next.set(chunk, buf.length);
    this.store = next;
    this.buf = next.subarray(0, need);
  }

  /** Ensures at least n bytes are buffered; false if the input ends first. */
  private async ensure(n: number): Promise<boolean> {
    while (this.buf.length < n) if (!(await this.more())) return false;
    return true;
  }

  /**
   * Where in `buf` a delimiter starts: the first position holding either the whole
   * delimiter, or (within the last delimiter-length bytes) a prefix of it running to the end.
   * `buf.length` if neither: every byte is part of the body.
   *
   * Boyer-Moore-Horspool on the last two bytes of the window (a bigram, so runs of digits or
   * dashes, common in boundaries, still shift far): on most data it reads about two bytes per
   * delimiter length. Linear in the worst case, as CR occurs only at the delimiter's start, so
   * a failed comparison proves the alignments it covered cannot match.
   */
  private scan(buf: Uint8Array): number {
    const delim = this.delim;
    const skip = this.skip;
    const len = buf.length;
    const last = delim.length - 1;
    const lastByte = delim[last];
    let i = 0;
    while (i + last < len) {
      const b = buf[i + last]!;
      if (b === lastByte) {
        let j = 0;
        while (j < last && buf[i + j] === delim[j]) j++;
        if (j === last) return i;
      }
      i += skip[(buf[i + last - 1]! << 8) | b]!;
    }
    // No whole delimiter: look for one cut off by the end of the input seen so far.
    let p = buf.indexOf(CR, Math.max(0, len - last));
    while (p !== -1) {
      let j = 1;
      while (p + j < len && buf[p + j] === delim[j]) j++;
      if (p + j === len) return p;
      p = buf.indexOf(CR, p + 1);
    }
    return len;
  }

  /**
   * The next piece of the current body (a view of the input, no copy), or null once its
   * closing delimiter has been consumed. Throws if the input ends first.
   */
  private async nextBodyChunk(): Promise<Uint8Array | null> {
    const dlen = this.delim.length;
    while (true) {
      const at = this.scan(this.buf);
      const buf = this.buf;
      if (at > 0) {
        // Bytes before a (possible) delimiter are body.
        this.buf = buf.subarray(at);
        return buf.subarray(0, at);
      }
      if (buf.length >= dlen) {
        this.buf = buf.subarray(dlen);
        return null;
      }
      // buf is empty or a delimiter prefix cut off by the end of a chunk: need more input.
      const chunk = await this.read();
      if (chunk === null) throw bad('truncated multipart body: it ends inside a part');
      if (buf.length === 0 || chunk.length < dlen) {
        this.append(chunk);
        continue;
      }
      // Decide on the carried-over prefix plus the start of the chunk instead of copying the
      // whole chunk onto it. A delimiter starting in the carry ends inside this probe.
      const probe = new Uint8Array(buf.length + dlen - 1);
      probe.set(buf, 0);
      probe.set(chunk.subarray(0, dlen - 1), buf.length);
      const p = this.scan(probe);
      if (p === 0) {
        this.buf = chunk.subarray(dlen - buf.length);
        return null;
      }
      if (p >= buf.length) {
        this.buf = chunk;
        return buf; // no delimiter there: the carry was body after all
      }
      this.append(chunk); // (a delimiter starting inside the carry: cannot happen, as CR only starts one)
    }
  }

  // ---- structure ---------------------------------------------------------------------

  async skipPreamble(): Promise<void> {
    while (true) {
      const at = this.scan(this.buf);
      const buf = this.buf;
      if (at < buf.length && buf.length - at >= this.delim.length) {
        this.buf = buf.subarray(at + this.delim.length);
        return;
      }
      this.buf = buf.subarray(at); // discard preamble, keep a possible delimiter prefix
      if (!(await this.more())) throw bad('no multipart boundary found in the body');
    }
  }

  /** After a delimiter: true for the close delimiter ("--"); false (consuming any transport
   *  padding, leaving the CRLF) when a part follows. */
  async atCloseDelimiter(): Promise<boolean> {
    if (!(await this.ensure(2))) throw bad('truncated multipart body: it ends after a boundary');
    if (this.buf[0] === DASH && this.buf[1] === DASH) return true;
    let i = 0;
    while (true) {
      while (i < this.buf.length && (this.buf[i] === SP || this.buf[i] === HT)) i++;
      if (i > this.maxHeaderBytes) throw bad('part headers too large');
      if (i + 2 <= this.buf.length) break;
      if (!(await this.more())) throw bad('truncated multipart body: it ends after a boundary');
    }
    if (this.buf[i] !== CR || this.buf[i + 1] !== LF) throw bad('malformed multipart boundary line');
    this.buf = this.buf.subarray(i);
    return false;
  }

  /** Reads a part's header block; `buf` starts at the CRLF ending the boundary line. */
  async readHeaders(): Promise<{ name: string; filename?: string; contentType?: string }> {
    const max = this.maxHeaderBytes;
    let from = 0;
    let end: number;
    while (true) {
      end = indexOfCrlfCrlf(this.buf, from);
      if (end !== -1) break;
      // A terminator found later would start at buf.length - 3 or after: block over max.
      if (this.buf.length - 5 > max) throw bad('part headers too large');
      from = Math.max(0, this.buf.length - 3);
      if (!(await this.more())) throw bad('truncated multipart body: it ends inside part headers');
    }
    if (end - 2 > max) throw bad('part headers too large');
    const block = end > 2 ? this.buf.subarray(2, end) : EMPTY;
    this.buf = this.buf.subarray(end + 4);
    return parsePartHeaders(block);
  }

  openPart(): PartState {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const state = {} as PartState;
    state.done = false;
    state.cancelled = false;
    state.error = undefined;
    state.stream = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          controller = c;
        },
        pull: (c) =>
          this.serial(async () => {
            if (state.done || state.error !== undefined || state.cancelled) return;
            let chunk: Uint8Array | null;
            try {
              chunk = await this.nextBodyChunk();
            } catch (err) {
              state.error = err;
              if (!state.cancelled) c.error(err);
              this.partEnded(state);
              return;
            }
            if (chunk === null) {
              state.done = true;
              if (!state.cancelled) c.close();
              this.partEnded(state);
            } else if (!state.cancelled) {
              c.enqueue(chunk);
            }
          }),
        cancel: () => {
          state.cancelled = true;
          this.partEnded(state);
        },
      },
      { highWaterMark: 0 }, // read from the source only when the consumer asks
    );
    state.controller = controller;
    return state;
  }

  /** After the consumer asks for the next part: drain what is left of this one. */
  async finishPart(state: PartState): Promise<void> {
    await this.serial(async () => {
      if (state.error !== undefined) throw state.error;
      if (state.done) return;
      let skipped = 0;
      try {
        let chunk: Uint8Array | null;
        while ((chunk = await this.nextBodyChunk()) !== null) skipped += chunk.length;
      } catch (err) {
        state.error = err;
        if (!state.cancelled) state.controller.error(err);
        throw err;
      }
      state.done = true;
      if (state.cancelled) return;
      if (skipped === 0) state.controller.close();
      else state.controller.error(new Error('multipart part body was skipped: the next part was requested before it was read'));
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private partEnded(state: PartState): void {
    if (this.releaseWhenDone === state) this.release();
  }

  releaseAfter(state: PartState): void {
    if (state.cancelled) this.release();
    else this.releaseWhenDone = state;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.releaseWhenDone = null;
    // Wait for any read in flight: releasing under it would reject it.
    void this.queue.then(() => {
      try {
        this.reader.releaseLock();
      } catch {
        // already released
      }
    });
  }
}

function indexOfCrlfCrlf(buf: Uint8Array, from: number): number {
  let i = buf.indexOf(CR, from);
  while (i !== -1 && i + 3 < buf.length) {
    if (buf[i + 1] === LF && buf[i + 2] === CR && buf[i + 3] === LF) return i;
    i = buf.indexOf(CR, i + 1);
  }
  return -1;
}

// ---- header parsing ------------------------------------------------------------------

const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function parsePartHeaders(block: Uint8Array): { name: string; filename?: string; contentType?: string } {
  const text = utf8.decode(block);
  const lines: string[] = [];
  if (text.length > 0) {
    for (const line of text.split('\r\n')) {
      if (line.includes('\r') || line.includes('\n')) throw bad('malformed part header: stray CR or LF');
      if (line.startsWith(' ') || line.startsWith('\t')) {
        // obsolete line folding (RFC 5322 §3.2.2): continues the previous header
        if (lines.length === 0) throw bad('malformed part header: continuation line first');
        lines[lines.length - 1] += ' ' + line.trim();
      } else {
        lines.push(line);
      }
    }
  }
  let disposition: string | undefined;
  let contentType: string | undefined;
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = colon === -1 ? '' : line.slice(0, colon);
    if (!TOKEN_RE.test(name)) throw bad(`malformed part header line: ${JSON.stringify(line.slice(0, 100))}`);
    const value = line.slice(colon + 1).trim();
    const lower = name.toLowerCase();
    if (lower === 'content-disposition') {
      if (disposition !== undefined) throw bad('part has more than one Content-Disposition');
      disposition = value;
    } else if (lower === 'content-type') {
      if (contentType !== undefined) throw bad('part has more than one Content-Type');
      contentType = value;
    }
  }
  if (disposition === undefined) throw bad('part has no Content-Disposition header');

  const semi = disposition.indexOf(';');
  const type = (semi === -1 ? disposition : disposition.slice(0, semi)).trim().toLowerCase();
  if (type !== 'form-data') throw bad(`part Content-Disposition is not form-data: ${JSON.stringify(type)}`);
  const params = semi === -1 ? new Map<string, string>() : parseParams(disposition, semi);
  const name = params.get('name');
  if (name === undefined) throw bad('part Content-Disposition has no name');
  const result: { name: string; filename?: string; contentType?: string } = { name };
  const filename = decodeExtValue(params.get('filename*')) ?? params.get('filename');
  if (filename !== undefined) result.filename = filename;
  if (contentType !== undefined) result.contentType = contentType;
  return result;
}

/**
 * `; key=value; key="quoted \" value"` from `s[at]` (which is ';') to the end; keys lowercased.
 * Throws a bad-multipart PackyardError on syntax errors and repeated keys.
 */
function parseParams(s: string, at: number): Map<string, string> {
  const params = new Map<string, string>();
  let i = at;
  const skipWs = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  while (true) {
    skipWs();
    if (i >= s.length) return params;
    if (s[i] !== ';') throw bad('malformed header parameters');
    i++;
    skipWs();
    if (i >= s.length) return params; // trailing ';'
    const eq = s.indexOf('=', i);
    if (eq === -1) throw bad('malformed header parameters');
    const key = s.slice(i, eq).trim().toLowerCase();
    if (!TOKEN_RE.test(key)) throw bad('malformed header parameter name');
    i = eq + 1;
    skipWs();
    let value: string;
    if (s[i] === '"') {
      i++;
      value = '';
      while (true) {
        if (i >= s.length) throw bad('unterminated quoted string in header');
        const ch = s[i]!;
        if (ch === '"') {
          i++;
          break;
        }
        // A backslash escapes only '"' and '\': Windows paths (C:\dir\f.deb) stay as sent.
        if (ch === '\\' && (s[i + 1] === '"' || s[i + 1] === '\\')) {
          value += s[i + 1];
          i += 2;
        } else {
          value += ch;
          i++;
        }
      }
    } else {
      const next = s.indexOf(';', i);
      const stop = next === -1 ? s.length : next;
      value = s.slice(i, stop).trim();
      i = stop;
    }
    if (params.has(key)) throw bad(`repeated header parameter ${key}`);
    params.set(key, value);
  }
}

/** RFC 5987 ext-value (`UTF-8''%E2%82%AC.deb`); undefined if absent or undecodable. */
function decodeExtValue(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const m = /^([!#$%&+\-^_`{}~0-9A-Za-z]+)'[^']*'(.*)$/.exec(v);
  if (m === null) return undefined;
  const charset = m[1]!.toLowerCase();
  const encoded = m[2]!;
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    const c = encoded.charCodeAt(i);
    if (c === 0x25) {
      const hex = encoded.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      return undefined;
    }
  }
  if (charset === 'utf-8') {
    try {
      return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(new Uint8Array(bytes));
    } catch {
      return undefined;
    }
  }
  if (charset === 'iso-8859-1') {
    let out = '';
    for (const b of bytes) out += String.fromCharCode(b);
    return out;
  }
  return undefined;
}
