import { Lru } from '../util/lru.js';

export interface ThrottleOptions {
  /** Failures from one client within `windowMs` that block it. */
  maxFailures?: number;
  windowMs?: number;
  /** How long a blocked client gets 429. */
  blockMs?: number;
  /** Failures from all clients within `windowMs` past which every unverified attempt is slowed… */
  globalSlowAfter?: number;
  /** …by up to this long, reached at `globalMaxFailures`, past which they are refused. */
  maxDelayMs?: number;
  globalMaxFailures?: number;
  now?: () => number;
}

interface ClientRecord {
  failures: number[];
  blockedUntil: number;
}

/** What the global budget asks of an attempt: to wait before being checked, or to come back later. */
interface Budget {
  delayMs: number;
  /** Seconds; 0 when the attempt may be checked. */
  retryAfter: number;
}

/**
 * Slows down guessing: a client (an address) whose credentials failed too often in a short time
 * is answered 429 for a while, without its credentials being checked. Credentials that succeeded
 * recently are still checked, so a machine sharing an address with a misconfigured one keeps
 * working. Failures from all addresses together draw on one budget too, so a client that
 * rotates addresses is slowed and then refused. The state is per process (per isolate on
 * Workers): a bound, not a global limit.
 */
export class Throttle {
  private readonly clients = new Lru<string, ClientRecord>(10_000);
  private readonly recentlyGood = new Lru<string, number>(10_000);
  /** Times of the latest failures from anyone, oldest first, at most `globalMax` of them. */
  private globalFailures: number[] = [];
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly blockMs: number;
  private readonly globalSlowAfter: number;
  private readonly globalMax: number;
  private readonly maxDelayMs: number;
  private readonly now: () => number;

  constructor(options: ThrottleOptions = {}) {
    this.maxFailures = options.maxFailures ?? 20;
    this.windowMs = options.windowMs ?? 60_000;
    this.blockMs = options.blockMs ?? 300_000;
    this.globalSlowAfter = options.globalSlowAfter ?? 100;
    this.globalMax = options.globalMaxFailures ?? 1000;
    this.maxDelayMs = options.maxDelayMs ?? 2000;
    this.now = options.now ?? Date.now;
  }

  /** Seconds until `client` may try again when it must not try `credential` now; 0 when it may. */
  retryAfter(client: string, credential: string): number {
    const record = this.clients.get(client);
    const now = this.now();
    if (!record || record.blockedUntil <= now) return 0;
    if (this.isRecentlyGood(credential, now)) return 0;
    return Math.ceil((record.blockedUntil - now) / 1000);
  }

  /** The global budget's answer for `credential`: a delay growing with recent failures, then a refusal. */
  budget(credential: string): Budget {
    const now = this.now();
    if (this.isRecentlyGood(credential, now)) return { delayMs: 0, retryAfter: 0 };
    this.globalFailures = this.globalFailures.filter((t) => now - t < this.windowMs);
    const count = this.globalFailures.length;
    if (count >= this.globalMax) return { delayMs: 0, retryAfter: Math.ceil((this.globalFailures[0]! + this.windowMs - now) / 1000) };
    const over = Math.max(0, count - this.globalSlowAfter);
    return { delayMs: Math.round((this.maxDelayMs * over) / (this.globalMax - this.globalSlowAfter)), retryAfter: 0 };
  }

  /**
   * A failed attempt from `client`. Only attempts at a guessable credential draw on the global
   * budget, the one they are slowed by: failures of others (a revoked API token retried by CI)
   * must not hold up the admin token for everyone.
   */
  failed(client: string, guessable: boolean): void {
    const now = this.now();
    const record = this.clients.get(client) ?? { failures: [], blockedUntil: 0 };
    record.failures = [...record.failures.filter((t) => now - t < this.windowMs), now];
    if (record.failures.length >= this.maxFailures) record.blockedUntil = now + this.blockMs;
    this.clients.set(client, record);
    if (!guessable) return;
    this.globalFailures.push(now);
    if (this.globalFailures.length > this.globalMax) this.globalFailures.shift();
  }

  succeeded(credential: string): void {
    this.recentlyGood.set(credential, this.now() + this.blockMs);
  }

  private isRecentlyGood(credential: string, now: number): boolean {
    return (this.recentlyGood.get(credential) ?? 0) > now;
  }
}
