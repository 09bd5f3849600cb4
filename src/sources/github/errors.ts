import { PackyardError } from '../../util/errors.js';
import type { RateLimit } from './rate-limit.js';

/** The `message` of GitHub's JSON error body, or the start of the body, or `fallback`. */
export function githubMessage(text: string, fallback: string): string {
  try {
    const message = (JSON.parse(text) as { message?: unknown }).message;
    if (typeof message === 'string') return message;
  } catch {
    // not JSON
  }
  return text.slice(0, 200) || fallback;
}

/** GitHub answered something the client cannot use (a 404, a 401, an unexpected status or body). */
export class GitHubError extends Error {
  constructor(
    /** GitHub's status (0: no answer, or one the client refused, such as an https→http redirect). */
    readonly status: number,
    message: string,
    readonly url: string,
  ) {
    super(message);
    this.name = 'GitHubError';
  }
}

/**
 * GitHub's rate limit (primary: `x-ratelimit-remaining: 0`; secondary: `Retry-After`) stopped
 * the client. Nothing was retried: the caller reports it and tries again at `retryAt`. As a
 * Packyard error it is a 503 with `Retry-After`.
 */
export class GitHubRateLimitError extends PackyardError {
  constructor(
    readonly kind: 'primary' | 'secondary',
    /** When a request may be made again. */
    readonly retryAt: Date,
    readonly rateLimit: RateLimit | undefined,
    readonly url: string,
    detail = '',
    now = Date.now(),
  ) {
    const seconds = Math.max(0, Math.ceil((retryAt.getTime() - now) / 1000));
    super(
      503,
      'github-rate-limited',
      `GitHub's ${kind} rate limit${rateLimit ? ` (${rateLimit.resource}, ${rateLimit.used}/${rateLimit.limit} used)` : ''} is exhausted; retry after ${retryAt.toISOString()} (in ${seconds} s)${detail ? `: ${detail}` : ''}`,
      { 'Retry-After': String(seconds) },
    );
    this.name = 'GitHubRateLimitError';
  }
}

/**
 * GitHub failing, as an answer for the API: what GitHub said, as a 502 (a rate limit is already
 * a 503 PackyardError); an App key that cannot be used likewise. Anything else as it is.
 */
export function asPackyardError(err: unknown): unknown {
  if (err instanceof GitHubError) return new PackyardError(502, 'github-error', err.message);
  if (err instanceof TypeError && /private key/.test(err.message)) return new PackyardError(502, 'github-app-key', err.message);
  return err;
}
