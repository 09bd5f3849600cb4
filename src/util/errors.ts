/** An error a client caused or can act on; `status` is the HTTP status it maps to. */
export class PackyardError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 411 | 412 | 413 | 415 | 416 | 422 | 429 | 500 | 502 | 503 | 507,
    readonly code: string,
    message: string,
    /** Response headers the answer needs (a 401's challenge, a 429's Retry-After). */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'PackyardError';
  }
}

/** A malformed upload: 422 with a code naming the defect. */
export function badPackage(code: string, message: string): PackyardError {
  return new PackyardError(422, code, message);
}
