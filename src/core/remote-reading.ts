import { PackyardError, badPackage } from '../util/errors.js';
import type { RemoteFile } from './format.js';

/** What a format's streaming reader shows of its progress. */
export interface HeadReader {
  push(chunk: Uint8Array): void;
  /** Whether what it reads (control data, headers) is still to come. */
  readonly needsMore: boolean;
}

const FIRST = 64 * 1024;
const LARGEST = 4 * 1024 * 1024;
/** A package whose control data is not within this much of its start is refused (it would be fetched whole). */
export const HEAD_LIMIT = 64 * 1024 * 1024;

/**
 * Feeds `reader` the start of a remote file, a range at a time (64 KiB, then twice as much each
 * time, up to 4 MiB), until it has what it needs; returns how many bytes were fetched.
 */
export async function readHead(file: RemoteFile, reader: HeadReader): Promise<number> {
  let offset = 0;
  for (let length = FIRST; reader.needsMore && offset < file.size; length = Math.min(length * 2, LARGEST)) {
    if (offset >= HEAD_LIMIT) throw badPackage('control-too-far', `the package's control data is not within its first ${HEAD_LIMIT} bytes`);
    const n = Math.min(length, file.size - offset);
    const chunk = await file.read(offset, n);
    if (chunk.length !== n) throw new PackyardError(502, 'short-read', `${file.remote.url}: asked for ${n} bytes at ${offset}, got ${chunk.length}`);
    reader.push(chunk);
    offset += n;
  }
  return offset;
}
