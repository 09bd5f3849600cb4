import { Gunzip } from 'fflate';
import { concatBytes } from '../../util/bytes.js';
import { TarParser, type TarHeader } from '../../util/codecs/tar.js';
import { badPackage, PackyardError } from '../../util/errors.js';
import { ArchiveLinks, safePath } from './archive-paths.js';
import { inflateEntry, zipEntries } from './zip.js';

export interface ModuleFile {
  path: string;
  size: number;
  mode?: number;
}

/** What a module archive holds: its regular files (links and directories are checked, not listed). */
export interface ModuleArchive {
  kind: 'tar.gz' | 'zip';
  files: ModuleFile[];
  /** Files named `*.tf` or `*.tf.json`, anywhere in the archive. */
  tfFiles: number;
  /** The sum of the files' sizes. */
  uncompressedSize: number;
}

export interface ModuleArchiveLimits {
  /** Bytes the archive may inflate to; default 500 MiB. */
  maxUncompressedSize?: number;
  /** Inflated bytes per archive byte allowed beyond the first `ratioFloor`; default 100. */
  maxRatio?: number;
  /** Inflated bytes always allowed whatever the ratio; default 64 MiB. */
  ratioFloor?: number;
}

export const DEFAULT_MODULE_LIMITS: Required<ModuleArchiveLimits> = { maxUncompressedSize: 500 * 2 ** 20, maxRatio: 100, ratioFloor: 64 * 2 ** 20 };

/** Compressed bytes per gunzip push: deflate's output is at most ~1032× its input, so this bounds one push's output. */
const GUNZIP_STEP = 4096;
/** A zip keeps a symbolic link's target as the entry's data. */
const MAX_LINK_TARGET = 4096;

/**
 * Reads a Terraform module archive, a gzipped tar or a zip (told apart by their first bytes, not
 * a name), without unpacking it: the archive is inflated in small steps and its data counted and
 * dropped, so an archive that inflates without end is refused once it passes the limit, never
 * held in memory. Refuses (422) what Terraform could not use or what would be unsafe to unpack.
 */
export function readModuleArchive(archive: Uint8Array, limits: ModuleArchiveLimits = {}): ModuleArchive {
  if (archive[0] === 0x1f && archive[1] === 0x8b) {
    const reader = new TarGzModuleReader(limits);
    reader.push(archive);
    return reader.finish();
  }
  if (archive[0] === 0x50 && archive[1] === 0x4b && ((archive[2] === 3 && archive[3] === 4) || (archive[2] === 5 && archive[3] === 6))) {
    const budget = new Budget({ ...DEFAULT_MODULE_LIMITS, ...limits });
    budget.archive(archive.length);
    return summary('zip', readZip(archive, budget));
  }
  throw badPackage('bad-archive', 'a module archive must be a gzipped tar (.tar.gz) or a zip');
}

function summary(kind: ModuleArchive['kind'], files: ModuleFile[]): ModuleArchive {
  const tfFiles = files.filter((file) => /\.tf(\.json)?$/.test(file.path)).length;
  if (tfFiles === 0) throw badPackage('no-terraform-files', 'the archive holds no Terraform file (*.tf or *.tf.json)');
  return { kind, files, tfFiles, uncompressedSize: files.reduce((sum, file) => sum + file.size, 0) };
}

/**
 * Reads a gzipped tar module as its bytes go by, keeping none of them (an upload streaming to
 * storage): `push` each piece, then `finish`. Refusals are thrown as soon as they are seen.
 */
export class TarGzModuleReader {
  private readonly files: ModuleFile[] = [];
  private readonly links = new ArchiveLinks();
  private readonly budget: Budget;
  private readonly parser: TarParser;
  private readonly gunzip: Gunzip;

  constructor(limits: ModuleArchiveLimits = {}) {
    this.budget = new Budget({ ...DEFAULT_MODULE_LIMITS, ...limits });
    this.parser = new TarParser((header) => onTarEntry(header, this.files, this.links, this.budget));
    this.gunzip = new Gunzip((chunk) => {
      this.budget.spend(chunk.length);
      if (!this.parser.done) this.parser.push(chunk);
    });
  }

  push(bytes: Uint8Array): void {
    this.budget.archive(bytes.length);
    // Stops at the end-of-archive marker: tar reads no further, so neither does this.
    guarded(() => {
      for (let i = 0; i < bytes.length && !this.parser.done; i += GUNZIP_STEP) this.gunzip.push(bytes.subarray(i, i + GUNZIP_STEP));
    });
  }

  finish(): ModuleArchive {
    guarded(() => {
      if (!this.parser.done) this.gunzip.push(new Uint8Array(0), true);
      this.parser.end();
    });
    this.links.check();
    return summary('tar.gz', this.files);
  }
}

/** A failure of gzip or tar, as the refusal of a bad archive. */
function guarded(read: () => void): void {
  try {
    read();
  } catch (err) {
    if (err instanceof PackyardError) throw err.code === 'bad-tar' ? badPackage('bad-archive', err.message) : err;
    throw badPackage('bad-archive', `bad gzip stream: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Counts inflated bytes against the size limit and the compression-ratio limit. */
class Budget {
  private used = 0;
  private archiveBytes = 0;

  constructor(private readonly limits: Required<ModuleArchiveLimits>) {}

  /** Compressed bytes read so far: the ratio is of what came in, so a stream is judged as it goes. */
  archive(bytes: number): void {
    this.archiveBytes += bytes;
  }

  /** A size an entry declares, refused before any of it is inflated. */
  declare(size: number, what: string): void {
    if (size > this.limits.maxUncompressedSize) throw tooLarge(`${what} would be ${size} bytes, over the limit of ${this.limits.maxUncompressedSize}`);
  }

  spend(bytes: number): void {
    this.used += bytes;
    if (this.used > this.limits.maxUncompressedSize) throw tooLarge(`the archive inflates to more than the limit of ${this.limits.maxUncompressedSize} bytes`);
    if (this.used > Math.max(this.limits.ratioFloor, this.limits.maxRatio * this.archiveBytes)) throw tooLarge(`the archive inflates to more than ${this.limits.maxRatio} times its size (a compression bomb?)`);
  }
}

function onTarEntry(header: TarHeader, files: ModuleFile[], links: ArchiveLinks, budget: Budget): void {
  const path = safePath(header.name).join('/');
  if (path === '') return; // the top directory, `./`
  links.member(path);
  switch (header.kind) {
    case 'file':
      budget.declare(header.size, JSON.stringify(header.name));
      files.push({ path, size: header.size, mode: header.mode });
      return;
    case 'directory':
      return;
    case 'symlink':
      links.symlink(path, header.linkName);
      return;
    case 'hardlink':
      links.hardlink(path, header.linkName);
      return;
    default:
      throw unsafeEntry(header.name, TAR_TYPES[header.type] ?? `an entry of tar type ${JSON.stringify(header.type)}`);
  }
}

const TAR_TYPES: Record<string, string> = { '3': 'a character device', '4': 'a block device', '6': 'a named pipe' };

function readZip(archive: Uint8Array, budget: Budget): ModuleFile[] {
  const files: ModuleFile[] = [];
  const links = new ArchiveLinks();
  const entries = zipEntries(archive);
  // Sizes are checked as each entry inflates, so their declared sum bounds the work: refuse it up front.
  budget.declare(
    entries.reduce((sum, entry) => sum + entry.size, 0),
    'the entries together',
  );
  for (const entry of entries) {
    const path = safePath(entry.name).join('/');
    if (path === '') continue;
    links.member(path);
    const type = (entry.mode ?? 0) & 0o170000;
    if (entry.directory) {
      if (entry.size !== 0) throw badPackage('bad-archive', `directory ${JSON.stringify(entry.name)} has data`);
      continue;
    }
    if (type === 0o120000) {
      if (entry.size > MAX_LINK_TARGET) throw badPackage('bad-archive', `symbolic link ${JSON.stringify(entry.name)} has a target of ${entry.size} bytes`);
      const parts: Uint8Array[] = [];
      inflateEntry(archive, entry, (chunk) => {
        budget.spend(chunk.length);
        parts.push(chunk.slice());
      });
      links.symlink(path, new TextDecoder().decode(concatBytes(parts)));
      continue;
    }
    if (type !== 0 && type !== 0o100000) {
      throw unsafeEntry(entry.name, ZIP_TYPES[type] ?? `an entry of Unix type ${type.toString(8)}`);
    }
    inflateEntry(archive, entry, (chunk) => budget.spend(chunk.length));
    files.push({ path, size: entry.size, ...(entry.mode !== undefined ? { mode: entry.mode & 0o7777 } : {}) });
  }
  links.check();
  return files;
}

const ZIP_TYPES: Record<number, string> = { 0o020000: 'a character device', 0o060000: 'a block device', 0o010000: 'a named pipe', 0o140000: 'a socket' };

function unsafeEntry(name: string, what: string) {
  return badPackage('unsafe-entry', `archive member ${JSON.stringify(name)} is ${what}; a module holds only files, directories and links`);
}

function tooLarge(detail: string) {
  return badPackage('too-large', `module archive too large: ${detail}`);
}
