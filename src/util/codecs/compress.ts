import { streamBytes } from '../bytes.js';

export type Gzip = (data: Uint8Array) => Promise<Uint8Array>;

/**
 * A host's one-shot gunzip, for members already in memory: null when the output would pass
 * `maxBytes`; throws on corrupt data. Much cheaper per small member than a DecompressionStream.
 */
export type Gunzip = (data: Uint8Array, maxBytes: number) => Uint8Array | null;

/** gzip through the platform's CompressionStream (native in Workers and Node). */
export async function webGzip(data: Uint8Array): Promise<Uint8Array> {
  const stream = new CompressionStream('gzip');
  const writer = stream.writable.getWriter();
  // One chunk, not a Blob's many: each chunk is a round trip to the compressor.
  void writer.write(data as Uint8Array<ArrayBuffer>);
  void writer.close();
  return streamBytes(stream.readable);
}
