/**
 * A stream's bytes in one array. Not `new Response(stream).arrayBuffer()`: in Node the first
 * Response loads the bundled undici, 20-40 ms that every CLI command would pay.
 */
export async function streamBytes(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const reader = stream.getReader();
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) chunks.push(chunk.value);
  return chunks.length === 1 ? chunks[0]! : concatBytes(chunks);
}

/** A stream of these bytes, in one chunk (none when they are empty). */
export function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      if (bytes.length) controller.enqueue(bytes);
      controller.close();
    },
  });
}

/** The chunks, one after another, in one new array of `total` bytes. */
export function concatBytes(chunks: readonly Uint8Array[], total = chunks.reduce((n, c) => n + c.length, 0)): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
