/** The repository whose head a request may change, by name as the app decodes it; null for the Worker's own. */
export function publishedRepo(request: Request): string | null {
  if (request.method === 'GET' || request.method === 'HEAD') return null;
  const match = /^\/api\/v1\/repos\/([^/]+)(\/.*)?$/.exec(new URL(request.url).pathname);
  if (!match || match[2]?.startsWith('/uploads')) return null;
  // Decoded: `def%61ult` is repository default, and must reach default's Object.
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return null; // not a name: the app answers 400
  }
}
