// Reads what repodata needs from an .rpm as it streams past. Hand-written: no maintained npm
// package parses RPM package headers in pure JS from a stream of chunks, as a Worker needs.
// Checked on npm: @snyk/rpm-parser reads rpmdb databases, not package files; @dx3mod/rpm-parser
// is not on the registry; the other rpm packages wrap rpmbuild. The format is small (rpm's
// docs/manual/format.md): a 96-byte lead, the signature header padded to 8 bytes, the main
// header, then the compressed payload, which is never looked at.
import { badPackage } from '../../util/errors.js';
import { INTRO_SIZE, RpmHeader, SIGTAG, TAG, readIntro, type HeaderKind } from './header.js';
import type { RpmChangelogEntry, RpmDependency, RpmFile, RpmRecord } from './record.js';
import { isPrimaryFile } from './repodata.js';
import { compareVersionTokens, versionTokens, type VersionToken } from './version.js';
import { FailureLatch } from '../../util/failure-latch.js';
import { RPM_LIMITS, checkCount, checkDependency, checkedLength, format } from './limits.js';
import { GrowingBuffer } from '../../util/growing-buffer.js';

/** What an .rpm says about itself: its record, less what only the caller knows. */
export type RpmInfo = Omit<RpmRecord, 'sha256' | 'location' | 'key' | 'fileTime' | 'packageSize'>;

const LEAD_SIZE = 96;
const LEAD_MAGIC = [0xed, 0xab, 0xee, 0xdb];
/** The lead's signature_type for "a header-structured signature follows", the only kind rpm reads. */
const HEADER_SIGNATURE = 5;
/** createrepo_c's default --changelog-limit: how many entries other.xml keeps per package. */
const CHANGELOG_LIMIT = 10;

// rpmsenseFlags bits.
const SENSE_LESS = 1 << 1;
const SENSE_GREATER = 1 << 2;
const SENSE_EQUAL = 1 << 3;
const SENSE_PREREQ = 1 << 6;
const SENSE_SCRIPT_PRE = 1 << 9;
const SENSE_SCRIPT_POST = 1 << 10;
const SENSE_MISSINGOK = 1 << 19;
const SENSE_STRONG = 1 << 27;
/** The bits createrepo_c reads the comparison from (cr_flag_to_str): other values there mean none. */
const COMPARISON_MASK = 0xf;
const COMPARISONS = new Map<number, RpmDependency['flags']>([
  [SENSE_EQUAL, 'EQ'],
  [SENSE_LESS, 'LT'],
  [SENSE_LESS | SENSE_EQUAL, 'LE'],
  [SENSE_GREATER, 'GT'],
  [SENSE_GREATER | SENSE_EQUAL, 'GE'],
]);

const FILE_GHOST = 1 << 6;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

type Stage = 'lead' | 'signature-intro' | 'signature' | 'padding' | 'header-intro' | 'header' | 'payload';

/**
 * Reads an .rpm as it streams past: `push` every chunk of the upload, then `finish`. Holds the
 * lead and the two headers (each at most 32 MiB) and counts the payload without keeping it.
 */
export class RpmInspector {
  private stage: Stage = 'lead';
  /** The piece being collected: the lead, a header intro or body, or the padding. */
  private piece = new GrowingBuffer(LEAD_SIZE);
  /** Bytes seen so far. */
  private offset = 0;
  private entryCount = 0;
  private signature: RpmHeader | undefined;
  private header: RpmHeader | undefined;
  private headerStart = 0;
  private headerEnd = 0;
  private readonly latch = new FailureLatch();

  push(chunk: Uint8Array): void {
    this.latch.run(() => this.consume(chunk));
  }

  /** Whether the headers are still to come (a reader of ranges reads on). */
  get needsMore(): boolean {
    return this.stage !== 'payload';
  }

  /** Ends after the main header, in a file known to be `total` bytes long (its payload read by ranges, or not at all). */
  finishAt(total: number): RpmInfo {
    if (this.stage === 'payload') this.offset = total;
    return this.finish();
  }

  finish(): RpmInfo {
    this.latch.check();
    switch (this.stage) {
      case 'lead':
        if (this.offset === 0) throw badPackage('not-rpm', 'file is empty, not an RPM');
        this.checkMagic();
        throw badPackage('truncated', `file ends after ${this.offset} bytes, inside the ${LEAD_SIZE}-byte lead`);
      case 'signature-intro':
      case 'signature':
      case 'padding':
        throw badPackage('truncated', `file ends after ${this.offset} bytes, inside the signature header`);
      case 'header-intro':
      case 'header':
        throw badPackage('truncated', `file ends after ${this.offset} bytes, inside the main header`);
      case 'payload':
        this.checkSize(this.signature!);
        return recordOf(this.signature!, this.header!, this.headerStart, this.headerEnd);
    }
  }

  private consume(chunk: Uint8Array): void {
    for (let pos = 0; pos < chunk.length; ) {
      if (this.stage === 'payload') {
        this.offset += chunk.length - pos;
        return;
      }
      const n = this.piece.append(chunk.subarray(pos));
      this.offset += n;
      pos += n;
      if (this.piece.full) this.advance();
    }
  }

  /** The current piece is complete: check it and set up the next. */
  private advance(): void {
    switch (this.stage) {
      case 'lead':
        this.checkLead();
        return this.expect('signature-intro', INTRO_SIZE);
      case 'signature-intro':
        return this.readIntro('signature');
      case 'signature': {
        this.signature = new RpmHeader('signature', this.entryCount, this.piece.bytes());
        // The main header starts at the next multiple of 8 bytes.
        const padding = (8 - (this.offset % 8)) % 8;
        if (padding) return this.expect('padding', padding);
        return this.toHeader();
      }
      case 'padding':
        return this.toHeader();
      case 'header-intro':
        return this.readIntro('main');
      case 'header':
        this.header = new RpmHeader('main', this.entryCount, this.piece.bytes());
        this.headerEnd = this.offset;
        this.stage = 'payload';
        this.piece = new GrowingBuffer(0);
        return;
    }
  }

  private expect(stage: Stage, size: number): void {
    this.stage = stage;
    this.piece = new GrowingBuffer(size);
  }

  private toHeader(): void {
    this.headerStart = this.offset;
    this.expect('header-intro', INTRO_SIZE);
  }

  private readIntro(kind: HeaderKind): void {
    const { entries, bodySize } = readIntro(kind, this.piece.bytes());
    this.entryCount = entries;
    this.expect(kind === 'signature' ? 'signature' : 'header', bodySize);
  }

  private checkMagic(): void {
    const lead = this.piece.bytes();
    if (LEAD_MAGIC.some((b, i) => i < lead.length && lead[i] !== b)) {
      throw badPackage('not-rpm', 'not an RPM: the file does not start with the RPM lead magic ed ab ee db');
    }
  }

  /** The lead is mostly obsolete; rpm still insists on its magic, format version and signature type. */
  private checkLead(): void {
    this.checkMagic();
    const lead = this.piece.bytes();
    const major = lead[4]!;
    if (major !== 3 && major !== 4) {
      throw badPackage('unsupported-rpm-version', `the lead says RPM format ${major}.${lead[5]}; rpm reads formats 3 and 4 only`);
    }
    const signatureType = (lead[78]! << 8) | lead[79]!;
    if (signatureType !== HEADER_SIGNATURE) {
      throw badPackage('bad-signature-type', `the lead announces signature type ${signatureType}, not a signature header (${HEADER_SIGNATURE})`);
    }
  }

  /** The signature header records the size of main header plus payload: a short payload shows here. */
  private checkSize(signature: RpmHeader): void {
    const size = signature.number(SIGTAG.LONGSIZE) ?? signature.number(SIGTAG.SIZE);
    if (size === undefined) return;
    const expected = this.headerStart + size;
    if (this.offset < expected) {
      throw badPackage('truncated', `file ends after ${this.offset} bytes, ${expected - this.offset} bytes before the end of the payload`);
    }
    if (this.offset > expected) {
      throw badPackage('trailing-data', `${this.offset - expected} bytes follow the end of the payload (byte ${expected})`);
    }
  }
}

// The characters rpmbuild accepts (rpmCharCheck, which also refuses ".."). They end up in file
// names and URLs, so nothing else is let through.
const NAME = /^[A-Za-z0-9_%][A-Za-z0-9._+%{}-]*$/;
const VERSION = /^[A-Za-z0-9._+%{}~^]+$/;
const ARCH = /^[A-Za-z0-9_]+$/;

function recordOf(signature: RpmHeader, h: RpmHeader, headerStart: number, headerEnd: number): RpmInfo {
  const text = (tag: number, max: number = RPM_LIMITS.lineLength) => checkedLength(h.string(tag) ?? '', max, () => `tag ${h.describe(tag)}`);
  // rpm's own test (headerIsSource) is the missing SOURCERPM; createrepo_c looks for SOURCEPACKAGE.
  const source = h.has(TAG.SOURCEPACKAGE) || !h.has(TAG.SOURCERPM);
  const name = identity(h, TAG.NAME, 'name', NAME);
  const version = identity(h, TAG.VERSION, 'version', VERSION);
  const release = identity(h, TAG.RELEASE, 'release', VERSION);
  const arch = identity(h, TAG.ARCH, 'arch', ARCH);
  // The file name it is stored and served under, which filesystems cap at 255 bytes (NAME_MAX).
  checkedLength(`${name}-${version}-${release}.${source ? 'src' : arch}.rpm`, 255, () => 'the file name name-version-release.arch.rpm');
  const fileList = files(h);
  return {
    name,
    epoch: String(h.number(TAG.EPOCH) ?? 0),
    version,
    release,
    arch: source ? 'src' : arch,
    source,
    summary: text(TAG.SUMMARY),
    description: text(TAG.DESCRIPTION, RPM_LIMITS.textLength),
    packager: text(TAG.PACKAGER),
    url: text(TAG.URL),
    license: text(TAG.LICENSE),
    vendor: text(TAG.VENDOR),
    group: text(TAG.GROUP),
    buildhost: text(TAG.BUILDHOST),
    sourcerpm: source ? '' : text(TAG.SOURCERPM),
    buildTime: h.number(TAG.BUILDTIME) ?? 0,
    installedSize: h.number(TAG.LONGSIZE) ?? h.number(TAG.SIZE) ?? 0,
    // Current rpmbuild records the payload size in the signature header only, older ones in the main header.
    archiveSize:
      signature.number(SIGTAG.LONGARCHIVESIZE) ??
      signature.number(SIGTAG.PAYLOADSIZE) ??
      h.number(TAG.LONGARCHIVESIZE) ??
      h.number(TAG.ARCHIVESIZE) ??
      0,
    headerStart,
    headerEnd,
    ...dependencies(h, fileList),
    files: fileList,
    changelogs: changelogs(h),
  };
}

function identity(h: RpmHeader, tag: number, what: string, allowed: RegExp): string {
  const value = h.string(tag);
  if (value === undefined || value === '') throw badPackage(`missing-${what}`, `the main header has no ${what.toUpperCase()}`);
  if (!allowed.test(value) || value.includes('..')) {
    throw badPackage(`invalid-${what}`, `${what} ${JSON.stringify(value)} breaks rpmbuild's rules for it (characters, or "..")`);
  }
  return value;
}

type Dependencies = Pick<RpmInfo, 'provides' | 'requires' | 'conflicts' | 'obsoletes' | 'recommends' | 'suggests' | 'supplements' | 'enhances'>;

/** One dependency as the header holds it. */
interface RawDependency {
  name: string;
  bits: number;
  /** `[epoch:]version[-release]`, or empty. */
  evr: string;
}

/**
 * The dependencies primary.xml lists, by createrepo_c's rules (cr_package_from_header in its
 * parsehdr.c), so that rendering them is a plain walk:
 *   - a dependency whose epoch is not a number is left out (createrepo_c warns and skips it);
 *   - requires leave out `rpmlib(…)` (features of rpm itself); a file of the package's own that
 *     primary.xml lists (isPrimaryFile); whatever the package provides itself with the same
 *     name, comparison and version string; and a repeat of the last require of the same name
 *     with the same comparison, version string and pre;
 *   - of the `libc.so.6…` requires only the highest symbol version is kept, and moved last;
 *   - requires needed by scriptlets (PREREQ, SCRIPT_PRE, SCRIPT_POST) are marked `pre`;
 *   - the weak dependencies of old rpm (MISSINGOK requires, OLDSUGGESTS and OLDENHANCES with or
 *     without the STRONG bit) are sorted into their modern lists.
 * Otherwise the lists keep header order.
 */
function dependencies(h: RpmHeader, files: readonly RpmFile[]): Dependencies {
  const out: Dependencies = { provides: [], requires: [], conflicts: [], obsoletes: [], recommends: [], suggests: [], supplements: [], enhances: [] };
  let total = 0;
  const read = (nameTag: number, flagsTag: number, versionTag: number, take: (raw: RawDependency) => void) => {
    const count = h.count(nameTag) ?? 0;
    total += count;
    checkCount('too-many-dependencies', 'dependencies', total, RPM_LIMITS.dependencies);
    for (const [what, tag] of [['flags', flagsTag], ['versions', versionTag]] as const) {
      const other = h.count(tag);
      if (other !== undefined && other !== count) throw badPackage('bad-dependencies', `tag ${h.describe(nameTag)} has ${count} names but ${other} ${what}`);
    }
    const names = h.strings(nameTag) ?? [];
    const flags = h.numbers(flagsTag);
    const versions = h.strings(versionTag);
    names.forEach((name, i) => {
      const evr = versions?.[i] ?? '';
      checkDependency(name, () => `dependency ${JSON.stringify(name.slice(0, 40))}… (tag ${h.describe(nameTag)})`);
      checkedLength(evr, RPM_LIMITS.lineLength, () => `the version of dependency ${JSON.stringify(name.slice(0, 40))}`);
      take({ name, bits: flags?.[i] ?? 0, evr });
    });
  };
  /** The dependency as primary.xml lists it, or undefined for a bad epoch. */
  const entry = ({ name, bits, evr }: RawDependency): RpmDependency | undefined => {
    const parts = splitEvr(evr);
    if (!parts) return undefined;
    const flags = COMPARISONS.get(bits & COMPARISON_MASK);
    // Without a comparison primary.xml shows no version, whatever the header holds.
    return flags ? { name, flags, ...parts } : { name };
  };
  const comparison = (d: RawDependency) => COMPARISONS.get(d.bits & COMPARISON_MASK) ?? '';
  const into = (list: RpmDependency[]) => (raw: RawDependency) => {
    const dep = entry(raw);
    if (dep) list.push(dep);
  };

  // createrepo_c's key for "provided": name, comparison and version string as written, run together.
  const providedKey = (d: RawDependency) => d.name + comparison(d) + d.evr;
  const provided = new Set<string>();
  read(TAG.PROVIDENAME, TAG.PROVIDEFLAGS, TAG.PROVIDEVERSION, (raw) => {
    const dep = entry(raw);
    if (!dep) return;
    provided.add(providedKey(raw));
    out.provides.push(dep);
  });
  read(TAG.CONFLICTNAME, TAG.CONFLICTFLAGS, TAG.CONFLICTVERSION, into(out.conflicts));
  read(TAG.OBSOLETENAME, TAG.OBSOLETEFLAGS, TAG.OBSOLETEVERSION, into(out.obsoletes));

  const ownFiles = new Set(files.map((f) => f.path));
  /** The last require kept of each name: its comparison, version string and pre. */
  const lastRequire = new Map<string, string>();
  let libc: { dep: RpmDependency; rank: LibcRank } | undefined;
  read(TAG.REQUIRENAME, TAG.REQUIREFLAGS, TAG.REQUIREVERSION, (raw) => {
    const { name, bits } = raw;
    if (name.startsWith('rpmlib(')) return;
    if (name.startsWith('/') && ownFiles.has(name) && isPrimaryFile(name)) return;
    if (provided.has(providedKey(raw))) return;
    const pre = (bits & (SENSE_PREREQ | SENSE_SCRIPT_PRE | SENSE_SCRIPT_POST)) !== 0;
    const key = `${comparison(raw)}\0${raw.evr}\0${pre}`;
    if (lastRequire.get(name) === key) return;
    const dep = entry(raw);
    if (!dep) return;
    if (bits & SENSE_MISSINGOK) {
      out.recommends.push(dep);
      return;
    }
    if (pre) dep.pre = true;
    if (name.startsWith('libc.so.6')) {
      const rank = libcRank(name);
      if (!libc || libcIsHigher(libc.rank, rank)) libc = { dep, rank };
      return;
    }
    out.requires.push(dep);
    lastRequire.set(name, key);
  });
  if (libc) out.requires.push(libc.dep);

  read(TAG.SUGGESTNAME, TAG.SUGGESTFLAGS, TAG.SUGGESTVERSION, into(out.suggests));
  read(TAG.ENHANCENAME, TAG.ENHANCEFLAGS, TAG.ENHANCEVERSION, into(out.enhances));
  read(TAG.RECOMMENDNAME, TAG.RECOMMENDFLAGS, TAG.RECOMMENDVERSION, into(out.recommends));
  read(TAG.SUPPLEMENTNAME, TAG.SUPPLEMENTFLAGS, TAG.SUPPLEMENTVERSION, into(out.supplements));
  read(TAG.OLDSUGGESTSNAME, TAG.OLDSUGGESTSFLAGS, TAG.OLDSUGGESTSVERSION, (raw) => into(raw.bits & SENSE_STRONG ? out.recommends : out.suggests)(raw));
  read(TAG.OLDENHANCESNAME, TAG.OLDENHANCESFLAGS, TAG.OLDENHANCESVERSION, (raw) => into(raw.bits & SENSE_STRONG ? out.supplements : out.enhances)(raw));
  return out;
}

/**
 * How createrepo_c's cr_compare_dependency ranks a `libc.so.6…` name: by the text inside its
 * first parentheses from its first digit on (level 4), compared with rpmvercmp. Names without it
 * rank lower, in steps: no parentheses, no closing one, empty ones, no digit before the closing
 * one. Made once per name, so that finding the highest of many is linear.
 */
interface LibcRank {
  level: 0 | 1 | 2 | 3 | 4;
  version: VersionToken[];
}

function libcRank(name: string): LibcRank {
  const open = name.indexOf('(');
  if (open < 0) return { level: 0, version: [] };
  const close = name.indexOf(')', open);
  if (close < 0) return { level: 1, version: [] };
  if (close === open + 1) return { level: 2, version: [] };
  // The first digit after the opening parenthesis, possibly past the closing one.
  const at = name.slice(open + 1).search(/[0-9]/);
  const from = at < 0 ? name.length : open + 1 + at;
  if (from > close) return { level: 3, version: [] };
  return { level: 4, version: versionTokens(name.slice(from, close)) };
}

/** Whether `candidate` ranks higher; ties, and the cases createrepo_c calls errors, keep the first. */
function libcIsHigher(kept: LibcRank, candidate: LibcRank): boolean {
  if (kept.level !== candidate.level) return candidate.level > kept.level;
  return kept.level === 4 && compareVersionTokens(kept.version, candidate.version) < 0;
}

/**
 * Splits `[epoch:]version[-release]` as createrepo_c does (cr_str_to_evr): the epoch is what
 * precedes the first colon, "0" when there is none or it is empty, and undefined is returned
 * when it is not a number (C's strtol: optional blanks and sign, then digits); the release
 * follows the first hyphen after that, and is left out when empty. An empty string has no parts.
 */
export function splitEvr(evr: string): { epoch?: string; version?: string; release?: string } | undefined {
  if (evr === '') return {};
  const colon = evr.indexOf(':');
  let epoch = '0';
  if (colon > 0) {
    epoch = evr.slice(0, colon);
    if (!/^[ \t\n\v\f\r]*[+-]?[0-9]+$/.test(epoch)) return undefined;
  }
  const rest = evr.slice(colon + 1);
  const hyphen = rest.indexOf('-');
  if (hyphen < 0) return { epoch, version: rest };
  const release = rest.slice(hyphen + 1);
  return release === '' ? { epoch, version: rest.slice(0, hyphen) } : { epoch, version: rest.slice(0, hyphen), release };
}

/** The file list: directory + base names (or, before rpm 4, whole names), typed by mode and flags. */
function files(h: RpmHeader): RpmFile[] {
  // Counts first: the lists that must match the file count are decoded only once they do.
  const count = h.count(TAG.BASENAMES) ?? h.count(TAG.OLDFILENAMES) ?? 0;
  checkCount('too-many-files', 'files', count, RPM_LIMITS.files);
  checkCount('too-many-files', 'directories', h.count(TAG.DIRNAMES) ?? 0, RPM_LIMITS.files);
  // Modes and flags may be missing; base names need their directory indexes.
  const lists: [string, number, number][] = [
    ['file modes', TAG.FILEMODES, count],
    ['file flags', TAG.FILEFLAGS, count],
    ...(h.has(TAG.BASENAMES) ? [['directory indexes', TAG.DIRINDEXES, 0] as [string, number, number]] : []),
  ];
  for (const [what, tag, missing] of lists) {
    const other = h.count(tag) ?? missing;
    if (other !== count) throw badPackage('bad-file-list', `${count} files but ${other} ${what}`);
  }
  // Checked as the list is made: a long directory name shared by many files multiplies.
  let total = 0;
  const checked = (path: string) => {
    total += checkedLength(path, RPM_LIMITS.pathLength, () => `the file path ${JSON.stringify(path.slice(0, 80))}…`).length;
    if (total > RPM_LIMITS.pathsTotal) {
      throw badPackage('file-list-too-large', `the file paths add up to more than ${format(RPM_LIMITS.pathsTotal)} characters, the limit for one package`);
    }
    return path;
  };
  let paths: string[];
  const basenames = h.strings(TAG.BASENAMES);
  if (basenames) {
    const dirnames = h.strings(TAG.DIRNAMES) ?? [];
    const dirindexes = h.numbers(TAG.DIRINDEXES) ?? [];
    paths = basenames.map((base, i) => {
      const dir = dirnames[dirindexes[i]!];
      if (dir === undefined) {
        throw badPackage('bad-file-list', `file ${JSON.stringify(base)} is in directory ${dirindexes[i]} of ${dirnames.length}`);
      }
      return checked(dir + base);
    });
  } else {
    paths = (h.strings(TAG.OLDFILENAMES) ?? []).map(checked);
  }
  const modes = h.numbers(TAG.FILEMODES);
  const flags = h.numbers(TAG.FILEFLAGS);
  return paths.map((path, i) => {
    if (((modes?.[i] ?? 0) & S_IFMT) === S_IFDIR) return { path, type: 'dir' };
    if ((flags?.[i] ?? 0) & FILE_GHOST) return { path, type: 'ghost' };
    return { path, type: 'file' };
  });
}

/**
 * The changelog as createrepo_c takes it: the first CHANGELOG_LIMIT entries in header order
 * (rpmbuild's is newest first), authors without trailing spaces (the first character stays), and
 * entries of the same second told apart by moving the earlier-listed (newer) ones a second later each.
 */
function changelogs(h: RpmHeader): RpmChangelogEntry[] {
  const [times, names, texts] = [TAG.CHANGELOGTIME, TAG.CHANGELOGNAME, TAG.CHANGELOGTEXT].map((tag) => h.count(tag) ?? 0) as [number, number, number];
  if (names !== times || texts !== times) {
    throw badPackage('bad-changelog', `the changelog has ${times} times, ${names} authors and ${texts} texts`);
  }
  // Only the entries kept are decoded: long-lived packages carry thousands.
  const dates = h.numbers(TAG.CHANGELOGTIME, CHANGELOG_LIMIT) ?? [];
  const authors = h.strings(TAG.CHANGELOGNAME, CHANGELOG_LIMIT) ?? [];
  const bodies = h.strings(TAG.CHANGELOGTEXT, CHANGELOG_LIMIT) ?? [];
  const kept = dates.map((date, i) => ({
    date,
    author: checkedLength(trimAuthor(authors[i]!), RPM_LIMITS.lineLength, () => `changelog author ${i}`),
    text: checkedLength(bodies[i]!, RPM_LIMITS.textLength, () => `changelog entry ${i}`),
  }));
  let last = 0;
  kept.forEach(({ date }, i) => {
    if (date !== last) {
      last = date;
      return;
    }
    // The same time as the last distinct one: bump the run of equal dates just before, cascading.
    for (let j = i - 1, t = date; j >= 0 && kept[j]!.date === t; j--, t++) kept[j]!.date = t + 1;
  });
  return kept;
}

/** Without trailing spaces, but never shorter than one character (createrepo_c's loop stops there). A loop, not a regex: linear on hostile input. */
function trimAuthor(author: string): string {
  let end = author.length;
  while (end > 1 && author.charCodeAt(end - 1) === 0x20) end--;
  return author.slice(0, end);
}
