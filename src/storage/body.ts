import { PackyardError } from '../util/errors.js';
import { streamBytes } from '../util/bytes.js';
import type { PutBody } from './types.js';

export async function toBytes(body: PutBody): Promise<Uint8Array> {
  if (typeof body === 'string') return new TextEncoder().encode(body);
  if (body instanceof Uint8Array) return body;
  return streamBytes(body);
}

export function partSizeMismatch(part: number, size: number): PackyardError {
  return new PackyardError(400, 'part-size-mismatch', `part ${part} is not ${size} bytes long`);
}

/** Passes a part through, failing it (and remembering why) when it is not `size` bytes. */
export class SizeCheck {
  error: PackyardError | undefined;
  readonly stream: TransformStream<Uint8Array, Uint8Array>;

  constructor(part: number, size: number) {
    let seen = 0;
    const fail = () => (this.error = partSizeMismatch(part, size));
    this.stream = new TransformStream({
      transform(chunk, controller) {
        seen += chunk.length;
        if (seen > size) throw fail();
        controller.enqueue(chunk);
      },
      flush() {
        if (seen !== size) throw fail();
      },
    });
  }
}
