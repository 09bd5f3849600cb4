import type { Storage } from '../storage/types.js';
import { gunzipStream } from '../util/codecs/gunzip-stream.js';
import type { FileEntry } from './snapshot.js';

/** The bytes clients get for a snapshot's file, as a stream; null when its object is not stored. */
export async function openFile(storage: Storage, entry: Pick<FileEntry, 'key' | 'encoding' | 'size'>): Promise<ReadableStream<Uint8Array> | null> {
  const obj = await storage.get(entry.key);
  if (!obj) return null;
  return entry.encoding === 'gzip' ? obj.body.pipeThrough(gunzipStream(entry.size)) : obj.body;
}
