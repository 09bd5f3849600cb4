/** GitHub's `X-RateLimit-*` headers. */
export interface RateLimit {
  limit: number;
  remaining: number;
  used: number;
  /** When the window resets. */
  reset: Date;
  /** `core`, `search`, `graphql`…  */
  resource: string;
}

/** The rate-limit state an answer carries, or undefined when it carries none (a 304 may). */
export function parseRateLimit(headers: Headers): RateLimit | undefined {
  const limit = headers.get('x-ratelimit-limit');
  const remaining = headers.get('x-ratelimit-remaining');
  const reset = headers.get('x-ratelimit-reset');
  if (limit === null || remaining === null || reset === null) return undefined;
  const l = Number(limit);
  const r = Number(remaining);
  const s = Number(reset);
  if (!Number.isFinite(l) || !Number.isFinite(r) || !Number.isFinite(s)) return undefined;
  const used = headers.get('x-ratelimit-used');
  return {
    limit: l,
    remaining: r,
    used: used !== null && Number.isFinite(Number(used)) ? Number(used) : l - r,
    reset: new Date(s * 1000),
    resource: headers.get('x-ratelimit-resource') ?? 'core',
  };
}

/** `Retry-After` as an instant: seconds from `now`, or an HTTP date. */
function parseRetryAfter(value: string | null, now: number): Date | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return new Date(now + Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : new Date(at);
}

/**
 * Whether an answer is GitHub's refusal for a rate limit, and when to retry (GitHub's advice:
 * `Retry-After` if given; else, with `remaining: 0`, the reset time; else a minute).
 */
export function rateLimitRefusal(
  response: Response,
  now: number,
): { kind: 'primary' | 'secondary'; retryAt: Date; rateLimit: RateLimit | undefined } | undefined {
  if (response.status !== 403 && response.status !== 429) return undefined;
  const rateLimit = parseRateLimit(response.headers);
  const retryAfter = parseRetryAfter(response.headers.get('retry-after'), now);
  if (retryAfter) return { kind: 'secondary', retryAt: retryAfter, rateLimit };
  if (rateLimit && rateLimit.remaining === 0) return { kind: 'primary', retryAt: new Date(Math.max(now, rateLimit.reset.getTime())), rateLimit };
  // A 429 without headers is a rate limit too; a 403 without them is a permission refusal.
  if (response.status === 429) return { kind: 'secondary', retryAt: new Date(now + 60_000), rateLimit };
  return undefined;
}
