import { PackyardError } from '../util/errors.js';

/** An error's answer, as every host gives it: the Hono app as a Response, the Node host's fast path with Node's own calls. */
export interface ErrorAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** What a client is told of a failure that is not a PackyardError: nothing (the host logs it). */
const INTERNAL = new PackyardError(500, 'internal', 'internal error');

/** The answer to a PackyardError; anything else is the internal error. */
export function renderError(err: unknown): ErrorAnswer {
  const error = err instanceof PackyardError ? err : INTERNAL;
  return {
    status: error.status,
    headers: { ...error.headers, 'content-type': 'application/json' },
    body: JSON.stringify({ error: { code: error.code, message: error.message } }),
  };
}

/** renderError as a Response. */
export function errorResponse(err: unknown): Response {
  const { status, headers, body } = renderError(err);
  return new Response(body, { status, headers });
}

/** The log entry for a request that failed with an internal error. */
export function failureEntry(method: string | undefined, path: string, err: unknown): Record<string, unknown> {
  return { level: 'error', msg: 'request failed', method, path, error: String((err as Error).stack ?? err) };
}
