import { REPO_NAME } from '../../core/layout.js';

/**
 * The repository whose head a request may change, by name as the app decodes it; null for the
 * Worker's own (reads, upload parts, and names the app refuses with a 400, publishing nothing).
 */
export function publishedRepo(request: Request): string | null {
  if (request.method === 'GET' || request.method === 'HEAD') return null;
  const match = /^\/api\/v1\/repos\/([^/]+)(\/.*)?$/.exec(new URL(request.url).pathname);
  if (!match || match[2]?.startsWith('/uploads')) return null;
  // Decoded: `def%61ult` is repository default, and must reach default's Object.
  try {
    const name = decodeURIComponent(match[1]!);
    return REPO_NAME.test(name) ? name : null;
  } catch {
    return null; // not a name: the app answers 400
  }
}
