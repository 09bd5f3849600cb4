// Failed authentication across all addresses: a client that rotates its address is slowed,
// then refused, while credentials that cannot be guessed (and ones that worked) still get in.
import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../src/storage/memory.js';
import { AdminToken } from '../../src/auth/admin-token.js';
import { Access } from '../../src/auth/access.js';
import { Throttle } from '../../src/auth/throttle.js';
import { packyardError } from '../helpers/errors.js';

describe('the global failure budget', () => {
  it('slows every unverified attempt past its first threshold, then refuses them, and forgets', () => {
    let now = 0;
    const throttle = new Throttle({ now: () => now, globalSlowAfter: 10, globalMaxFailures: 20, maxDelayMs: 1000 });
    throttle.succeeded('good');
    for (let i = 0; i < 10; i++) throttle.failed(`10.0.0.${i}`, true);
    expect(throttle.budget('guess')).toEqual({ delayMs: 0, retryAfter: 0 });
    for (let i = 10; i < 15; i++) throttle.failed(`10.0.0.${i}`, true);
    expect(throttle.budget('guess')).toEqual({ delayMs: 500, retryAfter: 0 });
    for (let i = 15; i < 20; i++) throttle.failed(`10.0.0.${i}`, true);
    expect(throttle.budget('guess').retryAfter).toBe(60);
    expect(throttle.budget('good')).toEqual({ delayMs: 0, retryAfter: 0 });
    now += 60_001;
    expect(throttle.budget('guess')).toEqual({ delayMs: 0, retryAfter: 0 });
  });

  it('counts failures of unguessable credentials per address only: a revoked API token retried by CI never holds up the admin token', () => {
    const throttle = new Throttle({ now: () => 0, globalSlowAfter: 10, globalMaxFailures: 20, maxDelayMs: 1000 });
    for (let i = 0; i < 50; i++) throttle.failed(`10.0.0.${i}`, false);
    expect(throttle.budget('admin guess')).toEqual({ delayMs: 0, retryAfter: 0 });
  });

  it('refuses guesses from ever new addresses, not a valid API token or one that worked before', async () => {
    const storage = new MemoryStorage();
    const { admin } = await AdminToken.load(storage, 'admin-secret');
    const access = new Access(storage, admin, { throttle: { globalSlowAfter: 5, globalMaxFailures: 10, maxDelayMs: 50 } });
    const { token } = await access.tokens.create({ name: 'ci', repos: { acme: ['write'] } }, 'test', new Date());
    const as = (secret: string, client: string) => ({ header: (name: string) => (name === 'authorization' ? `Bearer ${secret}` : undefined), client });
    await access.identify(as('admin-secret', '192.0.2.1'));

    const started = performance.now();
    for (let i = 0; i < 10; i++) await expect(access.identify(as(`guess-${i}`, `10.0.0.${i}`))).rejects.toThrow(/not valid/);
    // Past five failures, the last four waited 10, 20, 30 and 40 ms before being checked.
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
    const refused = await packyardError(() => access.identify(as('guess-x', '10.0.1.1')));
    expect(refused.status).toBe(429);
    expect(refused.headers?.['retry-after']).toMatch(/^\d+$/);

    const quick = performance.now();
    expect((await access.identify(as(token, '10.0.2.1')))?.actor).toBe('token:ci');
    expect((await access.identify(as('admin-secret', '10.0.2.2')))?.actor).toBe('admin');
    expect(performance.now() - quick).toBeLessThan(40);
  });
});
