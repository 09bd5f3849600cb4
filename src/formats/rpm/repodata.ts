// The rpm-md repository metadata dnf and zypper read: primary.xml, filelists.xml and other.xml
// (gzipped, named by their checksum) and the repomd.xml that lists them, signed beside itself.
//
// The XML is byte for byte what createrepo_c writes for the same packages (checked against
// createrepo_c 0.17, records made by RpmInspector, in test/formats/rpm/repodata.test.ts). The
// records already hold createrepo_c's reading of the headers (which requires it leaves out, how it
// splits versions, its changelog dates: see inspect.ts), so rendering is a walk over them; what is
// left here is primary.xml's choice of files and the serialisation. createrepo_c serialises with
// libxml2, whose escaping this follows:
//   - text: & < > as entities, CR as &#13;, everything else as is (UTF-8);
//   - attributes: & < > " as entities, TAB, LF, CR as &#9; &#10; &#13;, and every character
//     outside ASCII as a hexadecimal character reference (&#xE9;), since the nodes have no
//     document (and so no declared encoding) when libxml2 writes them.
// Characters XML 1.0 cannot hold (C0 controls other than TAB, LF and CR, U+FFFE, U+FFFF, lone
// surrogates) are dropped. createrepo_c refuses a package whose UTF-8 strings hold such controls and
// drops them from strings it has to read as Latin-1; a registry cannot refuse a package at publish
// time, so dropping is the one of its behaviours taken.
import type { Gunzip, Gzip } from '../../util/codecs/compress.js';
import { concatBytes } from '../../util/bytes.js';
import { digestBytes, type HasherFactory } from '../../util/hash.js';
import { decompress } from '../../util/codecs/decompress.js';
import { Lru } from '../../util/lru.js';
import { limited } from '../../util/concurrency.js';
import type { RpmDependency, RpmRecord } from './record.js';

export type RepodataType = 'primary' | 'filelists' | 'other';
export const REPODATA_TYPES: readonly RepodataType[] = ['primary', 'filelists', 'other'];

const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';
const NS_COMMON = 'http://linux.duke.edu/metadata/common';
const NS_RPM = 'http://linux.duke.edu/metadata/rpm';
const NS_FILELISTS = 'http://linux.duke.edu/metadata/filelists';
const NS_OTHER = 'http://linux.duke.edu/metadata/other';
const NS_REPO = 'http://linux.duke.edu/metadata/repo';

// ---------------------------------------------------------------------------------------------
// Escaping. The tests (without the global flag, so no lastIndex state) let clean strings, nearly
// all of them, through without a copy.

const TEXT_SPECIAL = /[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]/;
const TEXT_REPLACE = /[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const TEXT_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#13;' };

/** Element content as libxml2 writes it. */
export function escapeText(s: string): string {
  if (!TEXT_SPECIAL.test(s)) return s;
  return s.replace(TEXT_REPLACE, (c) => TEXT_ENTITIES[c] ?? '');
}

const ATTR_SPECIAL = /[&<>"\x00-\x1f\u0080-\uffff]/;
// With the u flag a surrogate pair is one match (one code point); a lone surrogate is a match of its own.
const ATTR_REPLACE = /[&<>"\x00-\x1f]|[^\x00-\x7f]/gu;
const ATTR_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;' };

/** An attribute value (without the quotes) as libxml2 writes it for a node outside a document. */
export function escapeAttr(s: string): string {
  if (!ATTR_SPECIAL.test(s)) return s;
  return s.replace(ATTR_REPLACE, (c) => {
    const entity = ATTR_ENTITIES[c];
    if (entity !== undefined) return entity;
    const cp = c.codePointAt(0)!;
    if (cp < 0x20 || (cp >= 0xd800 && cp <= 0xdfff) || cp === 0xfffe || cp === 0xffff) return '';
    return `&#x${cp.toString(16).toUpperCase()};`;
  });
}

// ---------------------------------------------------------------------------------------------
// Order and the per-package parts.

/**
 * Packages in createrepo_c's order: by file name, then by directory (plain string order; it
 * compares UTF-8 bytes, which differs only between astral characters and U+E000–U+FFFF). Returns
 * a new array.
 */
export function sortRecords(records: readonly RpmRecord[]): RpmRecord[] {
  const keyed = records.map((record) => {
    const slash = record.location.lastIndexOf('/');
    return { record, file: record.location.slice(slash + 1), dir: slash < 0 ? '' : record.location.slice(0, slash) };
  });
  keyed.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.dir < b.dir ? -1 : a.dir > b.dir ? 1 : 0));
  return keyed.map((k) => k.record);
}

/**
 * The files primary.xml lists, so that file dependencies resolve without filelists (createrepo_c's
 * cr_is_primary). A package's requires of such files of its own are left out (see inspect.ts).
 */
export function isPrimaryFile(path: string): boolean {
  return path.startsWith('/etc/') || path === '/usr/lib/sendmail' || path.includes('bin/');
}

function versionElement(r: RpmRecord): string {
  return `<version epoch="${escapeAttr(r.epoch)}" ver="${escapeAttr(r.version)}" rel="${escapeAttr(r.release)}"/>`;
}

/** `<tag>text</tag>`: libxml2 writes an empty text child as an open and a close tag, never `<tag/>`. */
function textElement(indent: string, tag: string, value: string): string {
  return `${indent}<${tag}>${escapeText(value)}</${tag}>\n`;
}

function dependencyList(out: string[], tag: string, deps: readonly RpmDependency[], requires: boolean): void {
  if (deps.length === 0) return;
  out.push(`    <rpm:${tag}>\n`);
  let entries = 0;
  for (const d of deps) {
    if (!d.name) continue;
    let entry = `      <rpm:entry name="${escapeAttr(d.name)}"`;
    if (d.flags) {
      // createrepo_c splits every versioned dependency into an epoch ("0" when none is written), version and release.
      const epoch = d.epoch || (d.version ? '0' : '');
      entry += ` flags="${d.flags}"`;
      if (epoch) entry += ` epoch="${escapeAttr(epoch)}"`;
      if (d.version) entry += ` ver="${escapeAttr(d.version)}"`;
      if (d.release) entry += ` rel="${escapeAttr(d.release)}"`;
    }
    if (requires && d.pre) entry += ' pre="1"';
    out.push(entry + '/>\n');
    entries++;
  }
  // A list of nothing but nameless entries is an empty element, as libxml2 writes it.
  if (entries === 0) out[out.length - 1] = `    <rpm:${tag}/>\n`;
  else out.push(`    </rpm:${tag}>\n`);
}

function fileElement(indent: string, path: string, type: RpmRecord['files'][number]['type']): string {
  return type === 'file' ? `${indent}<file>${escapeText(path)}</file>\n` : `${indent}<file type="${type}">${escapeText(path)}</file>\n`;
}

function primaryPackage(out: string[], r: RpmRecord): void {
  out.push(
    '<package type="rpm">\n',
    textElement('  ', 'name', r.name),
    textElement('  ', 'arch', r.arch),
    `  ${versionElement(r)}\n`,
    `  <checksum type="sha256" pkgid="YES">${escapeText(r.sha256)}</checksum>\n`,
    textElement('  ', 'summary', r.summary),
    textElement('  ', 'description', r.description),
    textElement('  ', 'packager', r.packager),
    textElement('  ', 'url', r.url),
    `  <time file="${r.fileTime}" build="${r.buildTime}"/>\n`,
    `  <size package="${r.packageSize}" installed="${r.installedSize}" archive="${r.archiveSize}"/>\n`,
    `  <location href="${escapeAttr(r.location)}"/>\n`,
    '  <format>\n',
    textElement('    ', 'rpm:license', r.license),
    textElement('    ', 'rpm:vendor', r.vendor),
    textElement('    ', 'rpm:group', r.group),
    textElement('    ', 'rpm:buildhost', r.buildhost),
    textElement('    ', 'rpm:sourcerpm', r.sourcerpm),
    `    <rpm:header-range start="${r.headerStart}" end="${r.headerEnd}"/>\n`,
  );
  // createrepo_c's order, weak dependencies included.
  dependencyList(out, 'provides', r.provides, false);
  dependencyList(out, 'requires', r.requires, true);
  dependencyList(out, 'conflicts', r.conflicts, false);
  dependencyList(out, 'obsoletes', r.obsoletes, false);
  dependencyList(out, 'suggests', r.suggests, false);
  dependencyList(out, 'enhances', r.enhances, false);
  dependencyList(out, 'recommends', r.recommends, false);
  dependencyList(out, 'supplements', r.supplements, false);
  for (const f of r.files) if (isPrimaryFile(f.path)) out.push(fileElement('    ', f.path, f.type));
  out.push('  </format>\n</package>\n');
}

function filelistsPackage(out: string[], r: RpmRecord): void {
  out.push(`<package pkgid="${escapeAttr(r.sha256)}" name="${escapeAttr(r.name)}" arch="${escapeAttr(r.arch)}">\n  ${versionElement(r)}\n`);
  for (const f of r.files) out.push(fileElement('  ', f.path, f.type));
  out.push('</package>\n');
}

function otherPackage(out: string[], r: RpmRecord): void {
  out.push(`<package pkgid="${escapeAttr(r.sha256)}" name="${escapeAttr(r.name)}" arch="${escapeAttr(r.arch)}">\n  ${versionElement(r)}\n`);
  // Oldest first: the record's list backwards (createrepo_c prepends each entry it reads).
  for (let i = r.changelogs.length - 1; i >= 0; i--) {
    const c = r.changelogs[i]!;
    out.push(`  <changelog author="${escapeAttr(c.author)}" date="${c.date}">${escapeText(c.text)}</changelog>\n`);
  }
  out.push('</package>\n');
}

// ---------------------------------------------------------------------------------------------
// Whole documents. createrepo_c ends these three without a newline.

type PackageWriter = (out: string[], r: RpmRecord) => void;

interface DocumentShape {
  /** The root element's start tag; %N is the number of packages. */
  open: string;
  close: string;
  write: PackageWriter;
}

const DOCUMENTS: Record<RepodataType, DocumentShape> = {
  primary: { open: `<metadata xmlns="${NS_COMMON}" xmlns:rpm="${NS_RPM}" packages="%N">\n`, close: '</metadata>', write: primaryPackage },
  filelists: { open: `<filelists xmlns="${NS_FILELISTS}" packages="%N">\n`, close: '</filelists>', write: filelistsPackage },
  other: { open: `<otherdata xmlns="${NS_OTHER}" packages="%N">\n`, close: '</otherdata>', write: otherPackage },
};

const documentHead = (shape: DocumentShape, packages: number) => XML_DECLARATION + shape.open.replace('%N', String(packages));

function renderPackages(shape: DocumentShape, records: readonly RpmRecord[]): string {
  const out: string[] = [];
  for (const r of records) shape.write(out, r);
  return out.join('');
}

function renderDocument(type: RepodataType, sorted: readonly RpmRecord[]): string {
  const shape = DOCUMENTS[type];
  return documentHead(shape, sorted.length) + renderPackages(shape, sorted) + shape.close;
}

export function renderPrimary(records: readonly RpmRecord[]): string {
  return renderDocument('primary', sortRecords(records));
}

export function renderFilelists(records: readonly RpmRecord[]): string {
  return renderDocument('filelists', sortRecords(records));
}

export function renderOther(records: readonly RpmRecord[]): string {
  return renderDocument('other', sortRecords(records));
}

// ---------------------------------------------------------------------------------------------
// repomd.xml

export interface RepomdEntry {
  type: RepodataType;
  /** Path from the repository root: `repodata/<checksum>-primary.xml.gz`. */
  location: string;
  /** SHA-256 (hex) of the file as served (gzipped). */
  checksum: string;
  /** SHA-256 (hex) of the uncompressed XML. */
  openChecksum: string;
  size: number;
  openSize: number;
  /** Seconds since the epoch. */
  timestamp: number;
}

export interface RepomdInput {
  /** createrepo_c's default is the generation time in seconds; anything that changes with the content will do. */
  revision: string;
  entries: readonly RepomdEntry[];
}

/**
 * A published repomd.xml as of `date` (a rollback signs again what exists): its revision and
 * timestamps moved there, the documents it names unchanged.
 */
export function redatedRepomd(xml: string, date: Date): string {
  const seconds = String(Math.floor(date.getTime() / 1000));
  return xml.replace(/<revision>[^<]*<\/revision>/, `<revision>${seconds}</revision>`).replace(/<timestamp>\d+<\/timestamp>/g, `<timestamp>${seconds}</timestamp>`);
}

/** repomd.xml, the one file dnf fetches first and checks every other against. */
export function renderRepomd(input: RepomdInput): string {
  const out = [XML_DECLARATION, `<repomd xmlns="${NS_REPO}" xmlns:rpm="${NS_RPM}">\n`, `  <revision>${escapeText(input.revision)}</revision>\n`];
  for (const e of input.entries) {
    out.push(
      `  <data type="${escapeAttr(e.type)}">\n`,
      `    <checksum type="sha256">${e.checksum}</checksum>\n`,
      `    <open-checksum type="sha256">${e.openChecksum}</open-checksum>\n`,
      `    <location href="${escapeAttr(e.location)}"/>\n`,
      `    <timestamp>${e.timestamp}</timestamp>\n`,
      `    <size>${e.size}</size>\n`,
      `    <open-size>${e.openSize}</open-size>\n`,
      '  </data>\n',
    );
  }
  out.push('</repomd>\n');
  return out.join('');
}

// ---------------------------------------------------------------------------------------------
// The files to publish.

export interface RepodataDeps {
  gzip: Gzip;
  /** SHA-256 only is asked of it. */
  createHasher: HasherFactory;
  /** Makes the ASCII-armored detached signature (Signer.detachSign). */
  signer: { detachSign(data: Uint8Array): Promise<string> };
  now: () => Date;
  /** The host's gunzip, for reusing pieces of previous documents (compression streams without it). */
  gunzip?: Gunzip;
}

/**
 * Where a document's pieces lie in its gzip file, in order: the piece's id (the head's is empty),
 * its compressed and its XML length. Kept with the snapshot, so that a publish in another process
 * (the CLI, a restarted server, a fresh Worker isolate) reuses the pieces of the published files.
 */
export type PieceTable = [id: string, gzLength: number, xmlLength: number][];

/** A document as last published: its piece table and its bytes (read only when a piece is reused). */
export interface PreviousDocument {
  table: PieceTable;
  bytes(): Promise<Uint8Array | null>;
}

export interface RepodataOptions {
  /** repomd.xml's `<revision>`; the generation time in seconds, as createrepo_c's, when absent. */
  revision?: string;
  previous?: Partial<Record<RepodataType, PreviousDocument>>;
}

export interface RepodataFile {
  /** Path from the repository root (`repodata/…`). */
  path: string;
  bytes: Uint8Array;
}

export interface Repodata {
  /** The three gzipped XML files, then `repodata/repomd.xml` and `repodata/repomd.xml.asc`. */
  files: RepodataFile[];
  /** What repomd.xml lists. */
  entries: RepomdEntry[];
  /** Each document's pieces, for the next publish's `previous`. */
  pieces: Record<RepodataType, PieceTable>;
}

/**
 * A run of consecutive packages of a document, rendered and compressed as one gzip member.
 * Concatenated members are one gzip file (RFC 1952; zlib's gzread, which dnf's librepo uses,
 * reads them all), so a publish that adds a package to a large repository renders and compresses
 * only the piece it lands in, as createrepo_c --update reuses the packages it had.
 */
interface Piece {
  /** Empty for the head, which changes with every count. */
  id: string;
  xml: Uint8Array;
  gz: Uint8Array;
}

/**
 * Pieces end after a package whose SHA-256 falls on a boundary (one in PIECE_AVERAGE), so an added
 * or removed package changes the piece around it and no other: boundaries by position would all
 * move. A piece grown past twice the average takes a commoner boundary, still by content;
 * PIECE_MAX cuts only the very rare run that has none.
 */
const PIECE_AVERAGE = 128;
const PIECE_MAX = 16 * PIECE_AVERAGE;

function cutPieces(sorted: readonly RpmRecord[]): RpmRecord[][] {
  const pieces: RpmRecord[][] = [];
  let piece: RpmRecord[] = [];
  for (const r of sorted) {
    piece.push(r);
    const mark = parseInt(r.sha256.slice(0, 8), 16);
    if (mark % PIECE_AVERAGE === 0 || (piece.length >= 2 * PIECE_AVERAGE && mark % (PIECE_AVERAGE / 16) === 0) || piece.length >= PIECE_MAX) {
      pieces.push(piece);
      piece = [];
    }
  }
  if (piece.length) pieces.push(piece);
  return pieces;
}

/**
 * Pieces recently built, by id: a hash of the document type and the stored keys of the piece's
 * packages (a record never changes once stored, so its key names its rendering). Least recently
 * used go first beyond PIECE_CACHE_BYTES: a 5,000-package repository's three documents take about 10 MB.
 */
const PIECE_CACHE_BYTES = 32 * 1024 * 1024;
/**
 * The count bound is only a backstop: pieces average PIECE_AVERAGE packages (some 80 KB of a
 * document's XML and gzip), so PIECE_CACHE_BYTES holds a few hundred of them and binds long
 * before 4,096 do, also for the largest repositories; only a run of unusually small pieces would
 * meet the count first.
 */
const PIECE_CACHE_ENTRIES = 4096;
const pieceCache = new Lru<string, Piece>(PIECE_CACHE_ENTRIES, (piece) => piece.xml.length + piece.gz.length, PIECE_CACHE_BYTES);

function cachePiece(piece: Piece): Piece {
  pieceCache.set(piece.id, piece);
  return piece;
}

/**
 * The pieces of a previously published document, by id, cut out of its bytes on first use. Any
 * doubt (the file gone, a member that does not inflate to its recorded length) makes it give
 * nothing, and the piece is rendered again.
 */
function previousPieces(previous: PreviousDocument | undefined, gunzip: Gunzip | undefined): (id: string) => Promise<Piece | null> {
  const at = new Map<string, { offset: number; gzLength: number; xmlLength: number }>();
  let offset = 0;
  for (const [id, gzLength, xmlLength] of previous?.table ?? []) {
    if (id) at.set(id, { offset, gzLength, xmlLength });
    offset += gzLength;
  }
  let bytes: Promise<Uint8Array | null> | undefined;
  return async (id) => {
    const place = at.get(id);
    if (!place) return null;
    try {
      const file = await (bytes ??= previous!.bytes());
      if (!file || file.length !== offset) return null;
      // A copy: a cached piece must not keep the whole old file alive.
      const gz = file.slice(place.offset, place.offset + place.gzLength);
      const xml = await decompress(gz, 'gz', place.xmlLength, gunzip);
      return xml.length === place.xmlLength ? { id, xml, gz } : null;
    } catch {
      return null;
    }
  };
}

/** One document as its pieces (the head, with the package count, and the close tag are pieces too). */
async function documentPieces(type: RepodataType, sorted: readonly RpmRecord[], deps: RepodataDeps, slot: Slot, previous?: PreviousDocument): Promise<Piece[]> {
  const shape = DOCUMENTS[type];
  const encoder = new TextEncoder();
  const build = (id: string, xml: () => string): Promise<Piece> =>
    slot(async () => {
      const bytes = encoder.encode(xml());
      return { id, xml: bytes, gz: await deps.gzip(bytes) };
    });
  const fromPrevious = previousPieces(previous, deps.gunzip);
  const reused = async (name: string, xml: () => string) => {
    const id = (await digestBytes(deps.createHasher, encoder.encode(`${type}\n${name}`), ['sha256'])).sha256.slice(0, 32);
    return pieceCache.get(id) ?? cachePiece((await fromPrevious(id)) ?? (await build(id, xml)));
  };
  return Promise.all([
    build('', () => documentHead(shape, sorted.length)),
    ...cutPieces(sorted).map((records) => reused(records.map((r) => r.key).join('\n'), () => renderPackages(shape, records))),
    reused('close', () => shape.close),
  ]);
}

/** Pieces being rendered and compressed at once: enough to keep two cores busy, leaving the rest of a thread pool free. */
const PIECES_IN_FLIGHT = 8;
/** Runs a piece's rendering and compression when its turn comes. */
type Slot = <T>(task: () => Promise<T>) => Promise<T>;

/**
 * Renders, compresses and signs the metadata of a set of packages. The XML files are named by the
 * checksum of their compressed bytes (createrepo_c's unique names), so that a mirror or a cache
 * never mixes an old repomd.xml with new metadata; only repomd.xml and its signature keep fixed names.
 */
export async function buildRepodata(records: readonly RpmRecord[], deps: RepodataDeps, options: RepodataOptions = {}): Promise<Repodata> {
  const sorted = sortRecords(records);
  const timestamp = Math.floor(deps.now().getTime() / 1000);
  const encoder = new TextEncoder();
  // Some 120 pieces for 5,000 packages. All rendered in one go, then compressed at once, they held
  // the event loop, then the host's thread pool (Node's four libuv threads), file reads waiting
  // behind them; now a piece is rendered when a slot frees, each in a turn of its own, while the
  // pool compresses the ones before.
  const slot: Slot = limited((task) => task(), PIECES_IN_FLIGHT);
  const documents = await Promise.all(
    REPODATA_TYPES.map(async (type) => {
      const pieces = await documentPieces(type, sorted, deps, slot, options.previous?.[type]);
      const gz = concatBytes(pieces.map((p) => p.gz));
      const [{ sha256: checksum }, { sha256: openChecksum }] = await Promise.all([
        digestBytes(deps.createHasher, gz, ['sha256']),
        digestBytes(deps.createHasher, pieces.map((p) => p.xml), ['sha256']),
      ]);
      const location = `repodata/${checksum}-${type}.xml.gz`;
      const entry: RepomdEntry = { type, location, checksum, openChecksum, size: gz.length, openSize: pieces.reduce((n, p) => n + p.xml.length, 0), timestamp };
      const table: PieceTable = pieces.map((p) => [p.id, p.gz.length, p.xml.length]);
      return { file: { path: location, bytes: gz }, entry, table };
    }),
  );
  const files: RepodataFile[] = documents.map((d) => d.file);
  const entries = documents.map((d) => d.entry);
  const repomd = encoder.encode(renderRepomd({ revision: options.revision ?? String(timestamp), entries }));
  const signature = encoder.encode(await deps.signer.detachSign(repomd));
  files.push({ path: 'repodata/repomd.xml', bytes: repomd }, { path: 'repodata/repomd.xml.asc', bytes: signature });
  const pieces = Object.fromEntries(REPODATA_TYPES.map((type, i) => [type, documents[i]!.table])) as Record<RepodataType, PieceTable>;
  return { files, entries, pieces };
}
