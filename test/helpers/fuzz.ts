// Shared pieces of the fuzz tests (test/fuzz/): run settings, the outcome every reader must have
// on hostile input, a per-case time bound that also stops synchronous loops, and byte mutations.
//
// Deterministic by default (a fixed seed, a fixed number of runs, and a time limit per property
// so CI stays well under a minute). To fuzz longer locally:
//   FUZZ_RUNS=20000 FUZZ_TIME_MS=120000 npx vitest run test/fuzz
//   FUZZ_SEED=random ...                  a new seed each run (printed on failure)
//   FUZZ_SEED=<seed> FUZZ_PATH=<path> ... replays the failure fast-check printed
//   FUZZ_STATS=1 ...                      prints how often each reader accepted, and each error code
import vm from 'node:vm';
import fc from 'fast-check';
import { afterAll, expect } from 'vitest';
import { PackyardError } from '../../src/util/errors.js';
import { concat } from './bytes.js';

const env = process.env;
const seed = env.FUZZ_SEED === 'random' ? Date.now() % 2 ** 31 : Number(env.FUZZ_SEED ?? 20261201);
const runs = env.FUZZ_RUNS === undefined ? undefined : Number(env.FUZZ_RUNS);
const timeLimit = env.FUZZ_TIME_MS === undefined ? undefined : Number(env.FUZZ_TIME_MS);

/**
 * fast-check parameters for one property: `numRuns` cases or `ms` milliseconds, whichever ends
 * first (both overridden by FUZZ_RUNS and FUZZ_TIME_MS). Running out of time is not a failure.
 */
export function fuzzRuns(numRuns: number, ms: number): fc.Parameters<unknown> {
  return {
    seed,
    numRuns: runs ?? numRuns,
    interruptAfterTimeLimit: timeLimit ?? ms,
    markInterruptAsFailure: false,
    ...(env.FUZZ_PATH ? { path: env.FUZZ_PATH } : {}),
  };
}

/** How long one case may take, synchronous parts included. */
export const CASE_MS = Number(env.FUZZ_CASE_MS ?? 2000);

const watchdog = vm.createContext({});

/**
 * Runs `work` and fails if it takes more than `ms`. Its synchronous part runs under V8's watchdog,
 * which stops even an endless loop; what it awaits is raced with a timer; and the total is checked
 * afterwards (a continuation after an await cannot be stopped, only measured).
 */
export async function withinTime<T>(what: string, work: () => T | Promise<T>, ms = CASE_MS): Promise<T> {
  const start = performance.now();
  const slow = () => new Error(`${what} took more than ${ms} ms: a hang or superlinear work`);
  let pending: T | Promise<T>;
  try {
    pending = vm.runInContext('work()', Object.assign(watchdog, { work }), { timeout: ms }) as T | Promise<T>;
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw slow();
    throw err;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(slow()), Math.max(0, ms - (performance.now() - start)));
  });
  try {
    const result = await Promise.race([pending, late]);
    if (performance.now() - start > ms) throw slow();
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/** Outcomes by reader: 'accepted' or the error code, counted for FUZZ_STATS. */
const outcomes = new Map<string, Map<string, number>>();
if (env.FUZZ_STATS) {
  afterAll(() => {
    console.log(`fuzz seed ${seed}`);
    for (const [what, counts] of outcomes) {
      const sorted = [...counts].sort(([, a], [, b]) => b - a);
      console.log(`${what}: ${sorted.map(([code, n]) => `${code} ${n}`).join(', ')}`);
    }
  });
}

/** Counts one outcome of `what`, for FUZZ_STATS. */
export function tally(what: string, outcome: string): void {
  const counts = outcomes.get(what) ?? new Map<string, number>();
  counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  outcomes.set(what, counts);
}

/**
 * What a reader must do with any input: return, or throw a PackyardError with a 4xx status. Returns
 * the error (undefined when the input was accepted); any other exception fails the property.
 */
export async function refusal(what: string, work: () => unknown): Promise<PackyardError | undefined> {
  try {
    await withinTime(what, work);
    tally(what, 'accepted');
    return undefined;
  } catch (err) {
    if (!(err instanceof PackyardError)) throw err;
    expect(err.status, `${what}: ${err.code}: ${err.message}`).toBeGreaterThanOrEqual(400);
    expect(err.status, `${what}: ${err.code}: ${err.message}`).toBeLessThan(500);
    expect(err.code).toMatch(/^[a-z0-9-]+$/);
    tally(what, err.code);
    return err;
  }
}

/** External memory now (ArrayBuffers: where a reader's buffers live). */
export function bufferBytes(): number {
  return process.memoryUsage().arrayBuffers;
}

/**
 * Pushes `bytes` to a streaming reader in the given chunks. While they stream in, the memory it
 * holds may grow with what it was given (a buffer grown by doubling may hold twice that, and the
 * one it replaced until collected), never with what a header claims.
 */
export function pushWithinMemory(push: (chunk: Uint8Array) => void, bytes: Uint8Array, splits: readonly number[]): void {
  const before = bufferBytes();
  for (const chunk of chunksOf(bytes, splits)) {
    push(chunk);
    const held = bufferBytes() - before;
    if (held > 4 * bytes.length + 256 * 1024) throw new Error(`the reader holds ${held} bytes after being given ${bytes.length}: an allocation sized by a header`);
  }
}

/** Cut points for feeding `length` bytes in chunks: 1 to 12 chunks, some of one byte. */
export function chunkSplits(): fc.Arbitrary<number[]> {
  return fc.array(fc.oneof(fc.nat(), fc.constant(1)), { maxLength: 12 });
}

/** `bytes` cut into chunks at the given sizes (cycled; the rest in one chunk when sizes run out). */
export function chunksOf(bytes: Uint8Array, sizes: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let pos = 0;
  for (const size of sizes) {
    if (pos >= bytes.length) break;
    const n = 1 + (size % Math.max(1, Math.ceil(bytes.length / 2)));
    out.push(bytes.subarray(pos, pos + n));
    pos += n;
  }
  if (pos < bytes.length) out.push(bytes.subarray(pos));
  return out;
}

const enc = new TextEncoder();

/** Numbers a length or count field should be tried with: edges, powers of two, and what overflows. */
export const EDGE_NUMBERS = [0, 1, 2, 7, 8, 15, 16, 255, 256, 511, 512, 513, 4095, 65535, 65536, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff];

/** One edit of a byte string, applied at a position given as a fraction of its length. */
export type Mutation =
  | { kind: 'set'; at: number; value: number }
  | { kind: 'xor'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'noise'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'duplicate'; at: number; length: number; to: number }
  | { kind: 'u32'; at: number; value: number; little: boolean }
  | { kind: 'digits'; at: number; text: string };

// Uniform over the input, with its two ends now and then. (fast-check's doubles are neither: most
// fall near zero, which put most edits on the first byte.)
const SCALE = 2 ** 30;
const where = fc.oneof(
  { weight: 9, arbitrary: fc.noBias(fc.integer({ min: 0, max: SCALE - 1 })).map((n) => n / SCALE) },
  { weight: 1, arbitrary: fc.constantFrom(0, (SCALE - 1) / SCALE) },
);

/** Mutations that keep the input's structure recognisable: a few bytes changed, moved or cut. */
export function mutation(): fc.Arbitrary<Mutation> {
  return fc.oneof(
    fc.record({ kind: fc.constant('set' as const), at: where, value: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 0x0a, 0x20, 0x2f, 0x30, 0x37, 0x80, 0xff)) }),
    fc.record({ kind: fc.constant('xor' as const), at: where, bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: where }),
    fc.record({ kind: fc.constant('insert' as const), at: where, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
    fc.record({ kind: fc.constant('noise' as const), at: where, bytes: fc.uint8Array({ minLength: 1, maxLength: 2000 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: where, length: fc.integer({ min: 1, max: 600 }) }),
    fc.record({ kind: fc.constant('duplicate' as const), at: where, length: fc.integer({ min: 1, max: 1200 }), to: where }),
    fc.record({ kind: fc.constant('u32' as const), at: where, value: fc.oneof(fc.constantFrom(...EDGE_NUMBERS), fc.nat()), little: fc.boolean() }),
    fc.record({
      kind: fc.constant('digits' as const),
      at: where,
      text: fc.oneof(fc.constantFrom('0', '9999999999', '77777777777', ' 1 ', '-1', '1e9', '0x10'), fc.nat().map(String), fc.nat().map((n) => n.toString(8))),
    }),
  );
}

/** `bytes` with the mutation applied (a new array; `bytes` is left as it is). */
export function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  const at = Math.floor(m.at * (bytes.length + 1));
  const replace = (start: number, patch: Uint8Array) => {
    const out = bytes.slice();
    out.set(patch.subarray(0, Math.max(0, out.length - start)), Math.min(start, out.length));
    return out;
  };
  switch (m.kind) {
    case 'set':
      return replace(at, Uint8Array.of(m.value));
    case 'xor':
      return at < bytes.length ? replace(at, Uint8Array.of(bytes[at]! ^ (1 << m.bit))) : bytes.slice();
    case 'truncate':
      return bytes.slice(0, at);
    case 'insert':
      return concat(bytes.subarray(0, at), m.bytes, bytes.subarray(at));
    case 'noise':
      return replace(at, m.bytes);
    case 'delete':
      return concat(bytes.subarray(0, at), bytes.subarray(at + m.length));
    case 'duplicate': {
      const to = Math.floor(m.to * (bytes.length + 1));
      return concat(bytes.subarray(0, to), bytes.subarray(at, at + m.length), bytes.subarray(to));
    }
    case 'u32': {
      const field = new Uint8Array(4);
      new DataView(field.buffer).setUint32(0, m.value >>> 0, m.little);
      return replace(at, field);
    }
    case 'digits':
      return replace(at, enc.encode(m.text));
  }
}

/** `bytes` with each mutation applied in turn. */
export function mutateAll(bytes: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  return ms.reduce(mutate, bytes);
}
