import { PackyardError } from '../util/errors.js';
import { distributionsOf, type Snapshot } from './snapshot.js';

/**
 * Refuses a distribution the repository does not have (a typo would otherwise create one that
 * lingers), naming those it has, unless the request asks to create it. A repository with none
 * yet takes its first from the first request.
 */
export function checkDistribution(current: Pick<Snapshot, 'repo' | 'lists' | 'settings'>, distribution: string, options: { create?: boolean } = {}): void {
  const known = distributionsOf(current);
  if (options.create || known.length === 0 || known.includes(distribution)) return;
  const nearest = [...known].sort((a, b) => editDistance(a, distribution) - editDistance(b, distribution))[0]!;
  throw new PackyardError(
    404,
    'distribution-not-found',
    `repository ${current.repo} has no distribution "${distribution}" (did you mean ${nearest}? it has: ${known.join(', ')}); to create it, ask with createDistribution=true (--create-distribution)`,
  );
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}
