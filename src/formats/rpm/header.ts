import { badPackage } from '../../util/errors.js';

/**
 * The header structure of an RPM file, used twice in a row: first as the signature header, then
 * as the main header. Each is a 16-byte intro (magic, 4 reserved bytes, entry count, store size),
 * an index of 16-byte entries (tag, type, offset into the store, count), then the store. All
 * numbers are big-endian.
 */
export type HeaderKind = 'signature' | 'main';

export const INTRO_SIZE = 16;
const ENTRY_SIZE = 16;
const MAGIC = [0x8e, 0xad, 0xe8, 0x01];
/** Per header (index and store). rpm itself stops at 16 MiB of store; this leaves room. */
const MAX_HEADER_SIZE = 32 * 1024 * 1024;
/** rpm's limits on index entries (hdrblobVerifyLengths): 32 in the signature header, 65,535 in the main one. */
const MAX_ENTRIES: Record<HeaderKind, number> = { signature: 32, main: 0xffff };
/**
 * Tags of an immutable region's trailer (HEADERIMAGE, HEADERSIGNATURES, HEADERIMMUTABLE): as the
 * first entry, its data lies at the end of the region, out of the order of the others.
 */
const REGION_TAGS = new Set([61, 62, 63]);

/** Data types of header entries (rpmTagType). */
const TYPE = { NULL: 0, CHAR: 1, INT8: 2, INT16: 3, INT32: 4, INT64: 5, STRING: 6, BIN: 7, STRING_ARRAY: 8, I18NSTRING: 9 } as const;
/** Bytes per element of the fixed-size types, indexed by type; strings are NUL-terminated instead. */
const ELEMENT_SIZE = [0, 1, 1, 2, 4, 8, 0, 1, 0, 0];
const TYPE_NAMES = ['NULL', 'CHAR', 'INT8', 'INT16', 'INT32', 'INT64', 'STRING', 'BIN', 'STRING_ARRAY', 'I18NSTRING'];

/** Main header tags read here (rpmTag). */
export const TAG = {
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  SUMMARY: 1004,
  DESCRIPTION: 1005,
  BUILDTIME: 1006,
  BUILDHOST: 1007,
  SIZE: 1009,
  VENDOR: 1011,
  LICENSE: 1014,
  PACKAGER: 1015,
  GROUP: 1016,
  URL: 1020,
  ARCH: 1022,
  OLDFILENAMES: 1027,
  FILEMODES: 1030,
  FILEFLAGS: 1037,
  SOURCERPM: 1044,
  ARCHIVESIZE: 1046,
  PROVIDENAME: 1047,
  REQUIREFLAGS: 1048,
  REQUIRENAME: 1049,
  REQUIREVERSION: 1050,
  CONFLICTFLAGS: 1053,
  CONFLICTNAME: 1054,
  CONFLICTVERSION: 1055,
  CHANGELOGTIME: 1080,
  CHANGELOGNAME: 1081,
  CHANGELOGTEXT: 1082,
  OBSOLETENAME: 1090,
  SOURCEPACKAGE: 1106,
  PROVIDEFLAGS: 1112,
  PROVIDEVERSION: 1113,
  OBSOLETEFLAGS: 1114,
  OBSOLETEVERSION: 1115,
  DIRINDEXES: 1116,
  BASENAMES: 1117,
  DIRNAMES: 1118,
  OLDSUGGESTSNAME: 1156,
  OLDSUGGESTSVERSION: 1157,
  OLDSUGGESTSFLAGS: 1158,
  OLDENHANCESNAME: 1159,
  OLDENHANCESVERSION: 1160,
  OLDENHANCESFLAGS: 1161,
  LONGARCHIVESIZE: 271,
  LONGSIZE: 5009,
  RECOMMENDNAME: 5046,
  RECOMMENDVERSION: 5047,
  RECOMMENDFLAGS: 5048,
  SUGGESTNAME: 5049,
  SUGGESTVERSION: 5050,
  SUGGESTFLAGS: 5051,
  SUPPLEMENTNAME: 5052,
  SUPPLEMENTVERSION: 5053,
  SUPPLEMENTFLAGS: 5054,
  ENHANCENAME: 5055,
  ENHANCEVERSION: 5056,
  ENHANCEFLAGS: 5057,
} as const;

/** Signature header tags read here (rpmSigTag); they reuse main header numbers with other meanings. */
export const SIGTAG = {
  /** Main header plus payload, in bytes. */
  SIZE: 1000,
  /** Uncompressed payload (cpio archive) size. */
  PAYLOADSIZE: 1007,
  LONGSIZE: 270,
  LONGARCHIVESIZE: 271,
} as const;

const TAG_NAMES: Record<HeaderKind, Map<number, string>> = {
  main: new Map(Object.entries(TAG).map(([name, tag]) => [tag, name])),
  signature: new Map(Object.entries(SIGTAG).map(([name, tag]) => [tag, name])),
};

interface Entry {
  type: number;
  offset: number;
  count: number;
}

/** Reads a header's intro: how many bytes of index and store follow it. */
export function readIntro(kind: HeaderKind, intro: Uint8Array): { entries: number; bodySize: number } {
  if (MAGIC.some((b, i) => intro[i] !== b)) {
    throw badPackage('bad-header-magic', `the ${kind} header does not start with the header magic 8e ad e8 01`);
  }
  const view = new DataView(intro.buffer, intro.byteOffset, intro.byteLength);
  const entries = view.getUint32(8);
  const storeSize = view.getUint32(12);
  if (entries === 0) throw badPackage('empty-header', `the ${kind} header has no entries`);
  const bodySize = entries * ENTRY_SIZE + storeSize;
  if (bodySize > MAX_HEADER_SIZE) {
    throw badPackage('header-too-large', `the ${kind} header is ${bodySize} bytes (${entries} entries), over the limit of ${MAX_HEADER_SIZE}`);
  }
  if (entries > MAX_ENTRIES[kind]) {
    throw badPackage('too-many-entries', `the ${kind} header has ${entries} entries; rpm reads at most ${MAX_ENTRIES[kind]}`);
  }
  return { entries, bodySize };
}

const utf8 = new TextDecoder();
/** ASCII strings up to this long are made from their bytes directly (fromCharCode's arguments stay few). */
const ASCII_RUN = 4096;

/**
 * One parsed header. Every entry is checked on construction the way rpm checks it (known type,
 * aligned, data inside the store and after the previous entry's), so the getters only decode.
 * Entries in store order without overlap keep the checks to one pass over the store: entries
 * that all claimed the same strings would cost entries × store size.
 */
export class RpmHeader {
  private readonly entries = new Map<number, Entry>();
  private readonly store: Uint8Array;
  private readonly view: DataView;

  /** `body` is what follows the intro: the index, then the store. */
  constructor(
    readonly kind: HeaderKind,
    entryCount: number,
    body: Uint8Array,
  ) {
    const index = new DataView(body.buffer, body.byteOffset, entryCount * ENTRY_SIZE);
    // A plain Uint8Array even when `body` is a Node Buffer: a Buffer's subarray costs several times more.
    this.store = new Uint8Array(body.buffer, body.byteOffset + entryCount * ENTRY_SIZE, body.byteLength - entryCount * ENTRY_SIZE);
    this.view = new DataView(this.store.buffer, this.store.byteOffset, this.store.byteLength);
    /** Where the previous entry's data ends. */
    let end = 0;
    for (let i = 0; i < entryCount; i++) {
      const at = i * ENTRY_SIZE;
      const tag = index.getUint32(at);
      const type = index.getUint32(at + 4);
      const offset = index.getUint32(at + 8);
      const count = index.getUint32(at + 12);
      if (type > TYPE.I18NSTRING) throw badPackage('bad-tag-type', `${this.where(i, tag)} has unknown type ${type}`);
      const size = ELEMENT_SIZE[type]!;
      if (size > 1 && offset % size !== 0) {
        throw badPackage('misaligned-data', `${this.where(i, tag)}: ${TYPE_NAMES[type]} data at offset ${offset} is not ${size}-byte aligned`);
      }
      if (type === TYPE.STRING && count !== 1) throw badPackage('bad-tag-count', `${this.where(i, tag)} is a STRING with count ${count}`);
      const region = i === 0 && REGION_TAGS.has(tag);
      if (!region && offset < end) {
        throw badPackage('overlapping-data', `${this.where(i, tag)}: data at offset ${offset} overlaps the previous entry's, which ends at ${end}`);
      }
      const dataEnd = this.dataEnd(type, offset, count);
      if (dataEnd === undefined) {
        throw badPackage('index-out-of-range', `${this.where(i, tag)}: ${count} × ${TYPE_NAMES[type]} at offset ${offset} runs past the ${this.store.length}-byte store`);
      }
      if (!region) end = dataEnd;
      if (this.entries.has(tag)) throw badPackage('duplicate-tag', `${this.where(i, tag)} repeats an earlier tag`);
      this.entries.set(tag, { type, offset, count });
    }
  }

  has(tag: number): boolean {
    return this.entries.has(tag);
  }

  /** How many values the tag holds, without decoding them. */
  count(tag: number): number | undefined {
    return this.entries.get(tag)?.count;
  }

  /** A string tag's value, or the first of an array or i18n one (the default locale). */
  string(tag: number): string | undefined {
    return this.strings(tag, 1)?.[0];
  }

  /** A string tag's values, the first `max` of them. */
  strings(tag: number, max = Infinity): string[] | undefined {
    const entry = this.entries.get(tag);
    if (!entry) return undefined;
    if (entry.type !== TYPE.STRING && entry.type !== TYPE.STRING_ARRAY && entry.type !== TYPE.I18NSTRING) {
      throw this.wrongType(tag, entry, 'a string');
    }
    const store = this.store;
    const n = Math.min(entry.count, max);
    const out: string[] = new Array(n);
    for (let i = 0, pos = entry.offset; i < n; i++) {
      // One pass finds the NUL and tells plain ASCII, which needs no decoder (most header strings).
      let end = pos;
      let ascii = true;
      for (let b = store[end]!; b !== 0; b = store[++end]!) if (b > 0x7f) ascii = false;
      out[i] = ascii && end - pos <= ASCII_RUN ? String.fromCharCode.apply(null, store.subarray(pos, end) as unknown as number[]) : utf8.decode(store.subarray(pos, end));
      pos = end + 1;
    }
    return out;
  }

  /** An integer tag's value, or the first of an array. */
  number(tag: number): number | undefined {
    return this.numbers(tag, 1)?.[0];
  }

  /** An integer tag's values, unsigned as rpm reads them, the first `max` of them. */
  numbers(tag: number, max = Infinity): number[] | undefined {
    const entry = this.entries.get(tag);
    if (!entry) return undefined;
    const n = Math.min(entry.count, max);
    const out: number[] = new Array(n);
    const view = this.view;
    const at = entry.offset;
    switch (entry.type) {
      case TYPE.CHAR:
      case TYPE.INT8:
        for (let i = 0; i < n; i++) out[i] = this.store[at + i]!;
        return out;
      case TYPE.INT16:
        for (let i = 0; i < n; i++) out[i] = view.getUint16(at + 2 * i);
        return out;
      case TYPE.INT32:
        for (let i = 0; i < n; i++) out[i] = view.getUint32(at + 4 * i);
        return out;
      case TYPE.INT64:
        for (let i = 0; i < n; i++) out[i] = Number(view.getBigUint64(at + 8 * i));
        return out;
      default:
        throw this.wrongType(tag, entry, 'an integer');
    }
  }

  /** The tag's name where this module knows it, for messages. */
  describe(tag: number): string {
    const name = TAG_NAMES[this.kind].get(tag);
    return name ? `${tag} ${name}` : String(tag);
  }

  /** Where an entry's data ends in the store, or undefined when it runs past it (each string NUL-terminated there). */
  private dataEnd(type: number, offset: number, count: number): number | undefined {
    const store = this.store;
    if (offset > store.length) return undefined;
    if (type === TYPE.STRING || type === TYPE.STRING_ARRAY || type === TYPE.I18NSTRING) {
      let pos = offset;
      for (let left = count; left > 0; left--) {
        // Empty strings without a call: indexOf for each of millions of them is 20 times slower.
        if (store[pos] === 0) {
          pos++;
          continue;
        }
        const nul = store.indexOf(0, pos);
        if (nul === -1) return undefined;
        pos = nul + 1;
      }
      return pos;
    }
    const end = offset + count * ELEMENT_SIZE[type]!;
    return end <= store.length ? end : undefined;
  }

  /** An entry, for messages. */
  private where(i: number, tag: number): string {
    return `${this.kind} header entry ${i} (tag ${this.describe(tag)})`;
  }

  private wrongType(tag: number, entry: Entry, expected: string) {
    return badPackage('bad-tag-type', `${this.kind} header tag ${this.describe(tag)} has type ${TYPE_NAMES[entry.type]}, expected ${expected}`);
  }
}
