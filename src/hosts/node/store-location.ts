import { resolve } from 'node:path';
import { S3Storage, s3Config } from '../../storage/s3.js';
import { PackyardError } from '../../util/errors.js';

/** Where a store lives: a local data directory, or a bucket (and prefix) of an S3-compatible server. */
export type StoreLocation = { kind: 'dir'; path: string } | { kind: 's3'; url: string };

export interface StoreFlags {
  data?: string;
  storage?: string;
}

export const DEFAULT_DIR = './packyard-data';

/** `s3://BUCKET[/PREFIX]` names a bucket; anything else is a directory. */
export function parseLocation(text: string): StoreLocation {
  if (/^s3:\/\//i.test(text)) {
    if (!/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(text)) throw new PackyardError(400, 'bad-storage', `"${text}" is not an S3 location: use s3://BUCKET[/PREFIX] (a bucket name is 3-63 lower-case letters, digits, dots and hyphens)`);
    return { kind: 's3', url: text.replace(/\/+$/, '') };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) throw new PackyardError(400, 'bad-storage', `"${text}": storage is a directory or s3://BUCKET[/PREFIX]`);
  return { kind: 'dir', path: resolve(text) };
}

/**
 * The store a command works on. A flag given on the command line wins over the environment
 * (`PACKYARD_STORAGE`, then `PACKYARD_DATA`); `./packyard-data` when nothing names one.
 */
export function locationOf(flags: StoreFlags, env: NodeJS.ProcessEnv = process.env): StoreLocation {
  if (flags.storage !== undefined && flags.data !== undefined) throw new PackyardError(400, 'bad-storage', 'give --data DIR or --storage URL, not both');
  const text = flags.storage ?? flags.data ?? (env.PACKYARD_STORAGE || env.PACKYARD_DATA || DEFAULT_DIR);
  return parseLocation(text);
}

/** How a location is shown to a user, and written back into a command they can paste. */
export function describeLocation(location: StoreLocation): { shown: string; flag: string } {
  return location.kind === 'dir' ? { shown: location.path, flag: `--data ${location.path}` } : { shown: location.url, flag: `--storage ${location.url}` };
}

/** The bucket a location names, with credentials and endpoint from the standard AWS variables. */
export function s3StorageAt(location: Extract<StoreLocation, { kind: 's3' }>, env: NodeJS.ProcessEnv = process.env): S3Storage {
  try {
    return new S3Storage(s3Config(location.url, env));
  } catch (err) {
    throw new PackyardError(400, 'bad-storage', (err as Error).message);
  }
}
