import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { Readable, pipeline } from 'node:stream';
import { createGzip } from 'node:zlib';
import { CliError } from './client.js';

/**
 * Packs a module directory as a deterministic `.tar.gz`: the same files give the same bytes
 * (entries sorted, mtime 0, uid/gid 0, mode 0644 or 0755), so publishing a directory again is
 * a no-op rather than a conflict. Written here because the project has no tar writer and the
 * subset needed (ustar headers, a pax header for long names) is small; gzip is node:zlib's, so the
 * bytes are the same for the same Node (another zlib may compress them otherwise: then a publish
 * of unchanged files is a 409, and `--replace` takes it).
 */

/** What a module archive never carries: VCS data, Terraform's working directory, state (which holds secrets). */
const SKIPPED_DIRS = new Set(['.git', '.terraform']);
const skippedFile = (name: string) => name === '.git' || name.includes('.tfstate');

export interface TarEntry {
  /** Slash-separated path inside the archive; a directory's ends in `/`. */
  path: string;
  kind: 'file' | 'dir';
  /** The file on disk to read (a symlink's target, resolved). */
  source?: string;
  size: number;
  executable: boolean;
}

/**
 * The entries of `dir`, sorted, with the skips applied. Symbolic links are followed when they
 * point inside `dir` (the archive holds the files, which unpack the same everywhere) and refused
 * when they point outside it: packing must not pick up files the directory does not own.
 */
export async function tarEntries(dir: string): Promise<TarEntry[]> {
  const root = await realpath(dir).catch(() => {
    throw new CliError(`${dir}: no such file or directory`);
  });
  const entries: TarEntry[] = [];
  const walk = async (real: string, prefix: string, ancestors: string[]): Promise<void> => {
    // By bytes, not by locale: the order must not depend on who packs.
    const names = (await readdir(real)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const name of names) {
      const shown = `${prefix}${name}`;
      let path = join(real, name);
      let info = await lstat(path);
      if (info.isSymbolicLink()) {
        const target = await realpath(path).catch(() => {
          throw new CliError(`${join(dir, shown)}: a symbolic link to nothing`);
        });
        const inside = relative(root, target);
        if (inside === '..' || inside.startsWith(`..${sep}`) || inside.startsWith(sep) || /^[A-Za-z]:/.test(inside)) throw new CliError(`${join(dir, shown)}: a symbolic link to ${target}, outside ${dir}: a module archive holds only the directory's own files`);
        path = target;
        info = await stat(target);
      }
      if (info.isDirectory()) {
        if (SKIPPED_DIRS.has(name)) continue;
        if (ancestors.includes(path)) throw new CliError(`${join(dir, shown)}: a symbolic link to a directory that contains it (a loop)`);
        entries.push({ path: `${shown}/`, kind: 'dir', size: 0, executable: true });
        await walk(path, `${shown}/`, [...ancestors, path]);
      } else if (info.isFile()) {
        if (skippedFile(name)) continue;
        entries.push({ path: shown, kind: 'file', source: path, size: info.size, executable: (info.mode & 0o100) !== 0 });
      } else {
        throw new CliError(`${join(dir, shown)}: neither a file nor a directory (a module archive holds only those)`);
      }
    }
  };
  await walk(root, '', [root]);
  return entries;
}

const BLOCK = 512;
const encoder = new TextEncoder();

function octal(header: Uint8Array, offset: number, length: number, value: number): void {
  const text = value.toString(8).padStart(length - 1, '0');
  if (text.length > length - 1) throw new CliError(`a value of ${value} does not fit a tar header`);
  header.set(encoder.encode(text), offset);
}

function header(name: Uint8Array, type: '0' | '5' | 'x', size: number, mode: number): Uint8Array {
  const h = new Uint8Array(BLOCK);
  h.set(name.subarray(0, 100), 0);
  octal(h, 100, 8, mode);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, 0);
  h[156] = type.charCodeAt(0);
  h.set(encoder.encode('ustar\0'), 257);
  h.set(encoder.encode('00'), 263);
  // The checksum is summed with its own field as spaces.
  h.fill(0x20, 148, 156);
  const sum = h.reduce((a, b) => a + b, 0);
  h.set(encoder.encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
  return h;
}

const padding = (size: number) => new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK);

/** A pax record `"<len> path=<value>\n"`, its length counting its own digits. */
function paxRecord(key: string, value: string): Uint8Array {
  const body = encoder.encode(` ${key}=${value}\n`);
  let length = body.length + 1;
  // The length counts its own digits: settle it.
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  return encoder.encode(`${length} ${key}=${value}\n`);
}

/** The headers of one entry: a pax header first when its name is over ustar's 100 bytes. */
function entryHeaders(entry: TarEntry): Uint8Array[] {
  const name = encoder.encode(entry.path);
  const mode = entry.executable ? 0o755 : 0o644;
  const main = header(name, entry.kind === 'dir' ? '5' : '0', entry.size, mode);
  if (name.length <= 100) return [main];
  const pax = paxRecord('path', entry.path);
  return [header(encoder.encode('././@PaxHeader'), 'x', pax.length, 0o644), pax, padding(pax.length), main];
}

async function* tarStream(entries: TarEntry[]): AsyncGenerator<Uint8Array> {
  for (const entry of entries) {
    yield* entryHeaders(entry);
    if (entry.kind !== 'file') continue;
    let size = 0;
    for await (const chunk of createReadStream(entry.source!)) {
      size += (chunk as Buffer).length;
      if (size > entry.size) break;
      yield chunk as Buffer;
    }
    // The header promised this size: a file that changed meanwhile would corrupt the archive.
    if (size !== entry.size) throw new CliError(`${entry.path} changed while it was being packed: try again`);
    yield padding(size);
  }
  yield new Uint8Array(BLOCK * 2);
}

/** The `.tar.gz` of `dir`, as a stream (the entries are listed, and checked, before it starts). */
export async function packDirectory(dir: string): Promise<{ stream: ReadableStream<Uint8Array>; entries: TarEntry[] }> {
  const entries = await tarEntries(dir);
  if (!entries.some((e) => e.kind === 'file')) throw new CliError(`${dir}: no files to publish`);
  // pipeline, not pipe: a read error must fail the gzip stream, not leave it waiting.
  const gzip = pipeline(Readable.from(tarStream(entries)), createGzip(), () => {});
  return { stream: Readable.toWeb(gzip) as ReadableStream<Uint8Array>, entries };
}
