// Deterministic random version pieces for the version-ordering tests, so a failure can be replayed.

export interface Random {
  next(): number;
  int(n: number): number;
  pick<T>(xs: readonly T[]): T;
  /** Digits, sometimes with leading zeros, now and then longer than any machine integer. */
  digits(): string;
  /** One to three letters of both cases. */
  letters(): string;
}

export function prng(seed: number): Random {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const digits = () => {
    const zeros = next() < 0.2 ? '0'.repeat(1 + int(3)) : '';
    const length = next() < 0.05 ? 20 + int(10) : 1 + int(3);
    let out = '';
    for (let i = 0; i < length; i++) out += String(int(10));
    return zeros + out;
  };
  const letters = () => {
    let out = '';
    for (let i = 1 + int(3); i > 0; i--) out += pick([...'abcxyzABZ']);
    return out;
  };
  return { next, int, pick, digits, letters };
}
