import { Lru } from '../repository/lru.js';

export interface ThrottleOptions {
  /** Failures from one client within `windowMs` that block it. */
  maxFailures?: number;
  windowMs?: number;
  /** How long a blocked client gets 429. */
  blockMs?: number;
  now?: () => number;
}

interface ClientRecord {
  failures: number[];
  blockedUntil: number;
}

/**
 * Slows down guessing: a client (an address) whose credentials failed too often in a short time
 * is answered 429 for a while, without its credentials being checked. Credentials that succeeded
 * recently are still checked, so a machine sharing an address with a misconfigured one keeps
 * working. The state is per process (per isolate on Workers): a bound, not a global limit.
 */
export class Throttle {
  private readonly clients = new Lru<string, ClientRecord>(10_000);
  private readonly recentlyGood = new Lru<string, number>(10_000);
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly blockMs: number;
  private readonly now: () => number;

  constructor(options: ThrottleOptions = {}) {
    this.maxFailures = options.maxFailures ?? 20;
    this.windowMs = options.windowMs ?? 60_000;
    this.blockMs = options.blockMs ?? 300_000;
    this.now = options.now ?? Date.now;
  }

  /** Seconds until `client` may try again when it must not try `credential` now; 0 when it may. */
  retryAfter(client: string, credential: string): number {
    const record = this.clients.get(client);
    const now = this.now();
    if (!record || record.blockedUntil <= now) return 0;
    if ((this.recentlyGood.get(credential) ?? 0) > now) return 0;
    return Math.ceil((record.blockedUntil - now) / 1000);
  }

  failed(client: string): void {
    const now = this.now();
    const record = this.clients.get(client) ?? { failures: [], blockedUntil: 0 };
    record.failures = [...record.failures.filter((t) => now - t < this.windowMs), now];
    if (record.failures.length >= this.maxFailures) record.blockedUntil = now + this.blockMs;
    this.clients.set(client, record);
  }

  succeeded(credential: string): void {
    this.recentlyGood.set(credential, this.now() + this.blockMs);
  }
}
