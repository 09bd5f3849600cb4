import { badPackage } from '../../util/errors.js';
import { FailureLatch } from '../../util/failure-latch.js';
import { GrowingBuffer } from '../../util/growing-buffer.js';

/** One member of an `ar` archive; `data` is set only for members the caller chose to capture. */
export interface ArMember {
  name: string;
  size: number;
  data?: Uint8Array;
}

export interface ArReaderOptions {
  /**
   * Called once a member's header is read, before any of its bytes. Return true to buffer the
   * member's bytes, false to let them stream past. The caller checks `size` (and may throw):
   * that, and a buffer that grows only with the bytes that arrive, keep memory bounded.
   */
  capture: (name: string, size: number) => boolean;
  /** The member list is kept, so its length is capped: a flood of empty members must not grow memory. */
  maxMembers?: number;
}

const MAGIC = new TextEncoder().encode('!<arch>\n');
const HEADER_SIZE = 60;
const latin1 = new TextDecoder('latin1');

/**
 * A push parser for the `ar` container of a `.deb`: bytes arrive in chunks split anywhere, and
 * only captured members are held in memory.
 */
export class ArReader {
  private readonly capture: ArReaderOptions['capture'];
  private readonly maxMembers: number;
  private readonly members: ArMember[] = [];
  private state: 'magic' | 'header' | 'body' | 'pad' = 'magic';
  private readonly header = new Uint8Array(HEADER_SIZE);
  private filled = 0; // bytes of the magic or header seen so far
  private remaining = 0; // bytes of the current member still to come
  private current: ArMember | undefined;
  private captured: GrowingBuffer | undefined;
  private readonly latch = new FailureLatch();
  /** Bytes taken so far. */
  private offset = 0;

  constructor(opts: ArReaderOptions) {
    this.capture = opts.capture;
    this.maxMembers = opts.maxMembers ?? 16;
  }

  push(chunk: Uint8Array): void {
    this.offset += chunk.length;
    this.latch.run(() => this.consume(chunk));
  }

  /**
   * Marks the end of what was read of a file known to be `total` bytes long (the rest is
   * elsewhere, not needed): the member being read must fit in it.
   */
  endAt(total: number): ArMember[] {
    this.latch.check();
    if (this.state !== 'body') return this.end();
    if (this.offset + this.remaining > total) throw badPackage('truncated', `file ends ${this.offset + this.remaining - total} bytes before the end of ar member "${this.current?.name}"`);
    return this.members;
  }

  /** Marks the end of input: returns the members, or throws if the archive stopped early. */
  end(): ArMember[] {
    this.latch.check();
    if (this.state === 'magic') {
      if (this.filled === 0) throw badPackage('not-ar-archive', 'file is empty, not a .deb (ar) archive');
      throw badPackage('truncated', 'file ends inside the ar archive signature');
    }
    if (this.state === 'header' && this.filled > 0) {
      throw badPackage('truncated', `file ends inside the header of ar member ${this.members.length + 1}`);
    }
    if (this.state === 'body') {
      throw badPackage('truncated', `file ends ${this.remaining} bytes before the end of ar member "${this.current?.name}"`);
    }
    // state 'pad': the last member's padding byte is missing, which dpkg never reads either.
    return this.members;
  }

  private consume(chunk: Uint8Array): void {
    let pos = 0;
    while (pos < chunk.length) {
      switch (this.state) {
        case 'magic': {
          const n = Math.min(MAGIC.length - this.filled, chunk.length - pos);
          for (let i = 0; i < n; i++) {
            if (chunk[pos + i] !== MAGIC[this.filled + i]) {
              throw badPackage('not-ar-archive', 'not a .deb: missing the "!<arch>" ar signature');
            }
          }
          pos += n;
          this.filled += n;
          if (this.filled === MAGIC.length) this.toHeader();
          break;
        }
        case 'header': {
          const n = Math.min(HEADER_SIZE - this.filled, chunk.length - pos);
          this.header.set(chunk.subarray(pos, pos + n), this.filled);
          pos += n;
          this.filled += n;
          if (this.filled === HEADER_SIZE) this.startMember();
          break;
        }
        case 'body': {
          const n = Math.min(this.remaining, chunk.length - pos);
          this.captured?.append(chunk.subarray(pos, pos + n));
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.endMember();
          break;
        }
        case 'pad':
          pos += 1; // its value is not checked: neither GNU ar nor dpkg does
          this.toHeader();
          break;
      }
    }
  }

  private toHeader(): void {
    this.state = 'header';
    this.filled = 0;
  }

  private startMember(): void {
    const index = this.members.length + 1;
    if (this.header[58] !== 0x60 || this.header[59] !== 0x0a) {
      throw badPackage('bad-ar-header', `ar member ${index}: header does not end with the "\`\\n" marker`);
    }
    const name = memberName(this.header.subarray(0, 16), index);
    const sizeField = latin1.decode(this.header.subarray(48, 58));
    if (!/^ *[0-9]+ *$/.test(sizeField)) {
      throw badPackage('bad-ar-header', `ar member "${name}": size field ${JSON.stringify(sizeField)} is not a number`);
    }
    if (index > this.maxMembers) {
      throw badPackage('too-many-members', `the ar archive has more than ${this.maxMembers} members`);
    }
    const size = Number(sizeField.trim());
    const member: ArMember = { name, size };
    this.captured = this.capture(name, size) ? new GrowingBuffer(size) : undefined;
    this.members.push(member);
    this.current = member;
    this.state = 'body';
    this.remaining = size;
    if (size === 0) this.endMember();
  }

  private endMember(): void {
    if (this.captured) this.current!.data = this.captured.bytes();
    if (this.current!.size % 2 === 1) this.state = 'pad';
    else this.toHeader();
  }
}

/** Decodes the 16-byte name field as dpkg does (trailing spaces and one GNU `/` dropped) and rejects names that could act as paths. */
function memberName(field: Uint8Array, index: number): string {
  const raw = latin1.decode(field).replace(/ +$/, '');
  const name = raw.endsWith('/') ? raw.slice(0, -1) : raw;
  if (name === '' || name.includes('/') || name.includes('\\') || name.includes('..') || !/^[\x21-\x7e]+$/.test(name)) {
    throw badPackage('unsafe-member-name', `ar member ${index} has an unsafe or invalid name ${JSON.stringify(raw)}`);
  }
  return name;
}
