import { Gunzip } from 'fflate';

/** Compressed bytes per push: deflate's output is at most ~1032× its input, so this bounds one chunk's output. */
const STEP = 64 * 1024;

/**
 * Decompresses a gzip stream of one or more members (a `Packages.gz` is one member per shard)
 * that must come to `size` bytes: fflate ends quietly on a truncated input, so the count is what
 * tells a whole file from a cut one. fflate's streaming Gunzip, not the platform's
 * DecompressionStream: workerd's refuses the bytes after a first member ("Trailing bytes after end
 * of compressed data").
 */
export function gunzipStream(size: number): TransformStream<Uint8Array, Uint8Array> {
  let gunzip: Gunzip;
  let out = 0;
  const wrong = () => new Error(`gzip data decompressed to ${out} bytes, not ${size}`);
  return new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      gunzip = new Gunzip((chunk) => {
        out += chunk.length;
        if (out > size) throw wrong();
        if (chunk.length > 0) controller.enqueue(chunk);
      });
    },
    transform(chunk) {
      for (let i = 0; i < chunk.length; i += STEP) gunzip.push(chunk.subarray(i, i + STEP));
    },
    flush() {
      gunzip.push(new Uint8Array(0), true);
      if (out !== size) throw wrong();
    },
  });
}
