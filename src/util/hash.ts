/** The four digests APT indexes list for every file. */
export interface Digests {
  md5: string;
  sha1: string;
  sha256: string;
  sha512: string;
}

export type HashName = keyof Digests;
export const ALL_HASHES: readonly HashName[] = ['md5', 'sha1', 'sha256', 'sha512'];

/**
 * Incremental hashing of several digests at once (all four unless fewer are named), so a file is
 * read a single time. A native hasher may be asynchronous: wait for update's promise, if it
 * returns one, before the next chunk (that bounds memory); a synchronous one returns nothing and
 * costs no promise per chunk.
 */
export interface MultiHasher<N extends HashName = HashName> {
  update(chunk: Uint8Array): void | Promise<void>;
  digest(): Pick<Digests, N> | Promise<Pick<Digests, N>>;
  /**
   * A hasher in this one's state, going on independently, when the host's can (Node's): what
   * lets a file whose start is unchanged be hashed from where that start ended.
   */
  copy?(): MultiHasher<N>;
}

export type HasherFactory = <N extends HashName = HashName>(names?: readonly N[]) => MultiHasher<N>;

export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let out = '';
  for (const b of view) out += b.toString(16).padStart(2, '0');
  return out;
}

/** The digests (all four unless `names` says) of bytes held in memory, in one part or several. */
export async function digestBytes<N extends HashName = HashName>(createHasher: HasherFactory, data: Uint8Array | readonly Uint8Array[], names?: readonly N[]): Promise<Pick<Digests, N>> {
  const hasher = createHasher(names);
  for (const part of data instanceof Uint8Array ? [data] : data) await hasher.update(part);
  return hasher.digest();
}

/** SHA-256 of a short string through Web Crypto, for tokens and ids. */
export async function sha256Hex(text: string): Promise<string> {
  return toHex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
}

/** Compares two equal-purpose secrets' hashes without an early exit. */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * Streams a body through the SHA-256, showing each piece to `take` (which may keep some, or
 * refuse with a throw: the body is then cancelled). Never holds the body itself.
 */
export async function hashThrough(createHasher: HasherFactory, body: ReadableStream<Uint8Array>, take: (chunk: Uint8Array, before: number) => void = () => {}): Promise<{ sha256: string; size: number }> {
  const hasher = createHasher(['sha256']);
  let size = 0;
  const reader = body.getReader();
  try {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      take(chunk.value, size);
      size += chunk.value.length;
      await hasher.update(chunk.value);
    }
  } catch (err) {
    await reader.cancel().catch(() => {});
    throw err;
  }
  return { sha256: (await hasher.digest()).sha256, size };
}
