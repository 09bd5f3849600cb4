import { gzip } from 'node:zlib';
import { promisify } from 'node:util';

const gzipAsync = promisify(gzip);

/** zlib straight from Node: several times faster than CompressionStream on a large Packages file. */
export async function nodeGzip(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await gzipAsync(data));
}
