import type { Env } from './env.js';
import { publishedRepo } from './published-repo.js';

/**
 * The Durable Object that must handle a request, or null to handle it in the Worker.
 *
 * Every change to a repository's head (a publish, a removal, a settings change, deleting it) runs
 * in that repository's one Durable Object. R2 takes about one write per second to a key; with
 * publishes racing from many isolates, the losers of each compare-and-swap would rebuild their
 * snapshot again and again, each rebuild burning CPU time on index rendering and signing. Queued
 * in one place they build once each, in order. Compare-and-swap still guards the head, so a
 * publish that reaches R2 another way (the CLI on a bucket, an old isolate) stays safe.
 *
 * Reads, repository creation (a create-only write) and resumable upload parts (writes to
 * fresh keys) stay in the Worker, close to the client.
 */
export function publisherFor(request: Request, env: Env): Publisher | null {
  const repo = publishedRepo(request);
  if (repo === null) return null;
  const stub = env.PUBLISHER.get(env.PUBLISHER.idFromName(repo));
  return { repo, fetch: (forwarded) => stub.fetch(forwarded) };
}

/** A repository's Durable Object, and the repository's name as the URL gives it. */
export interface Publisher {
  repo: string;
  fetch(request: Request): Promise<Response>;
}
