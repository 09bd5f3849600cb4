import { PackyardError } from '../util/errors.js';
import { closest } from '../util/closest.js';
import { own } from '../util/own.js';
import type { AnyFormat } from './format.js';
import { distributionsOf, type Snapshot } from './snapshot.js';

/**
 * Typo protection for anything that publishes into a place named by a user (an upload, a copy's
 * target): a distribution, or a Debian component, the repository does not have is refused with a
 * 404 naming the ones it has, unless `create` asks for it. A repository with no distribution yet
 * takes its first from the first upload, and a distribution with no component its first.
 */
export function checkDistribution(current: Snapshot, format: AnyFormat, placement: unknown, { create = false }: { create?: boolean } = {}): void {
  const place = format.placeOf?.(placement);
  if (!place || create) return;
  const { distribution, component } = place;
  const distributions = distributionsOf(current);
  if (distributions.length === 0) return;
  if (!distributions.includes(distribution)) throw missing(`repository ${current.repo} has no distribution "${distribution}"`, distribution, distributions, 'distribution');
  if (component === undefined) return;
  const components = [...new Set([...Object.keys(own(current.lists, distribution) ?? {}), ...(own(current.settings.distributions, distribution)?.components ?? [])])].sort();
  if (components.length > 0 && !components.includes(component)) throw missing(`distribution ${distribution} of ${current.repo} has no component "${component}"`, component, components, 'component');
}

function missing(what: string, name: string, has: string[], kind: 'distribution' | 'component'): PackyardError {
  return new PackyardError(404, `${kind}-not-found`, `${what} (its ${kind}s: ${has.join(', ')}): did you mean ${closest(name, has)}? To create it, ask for it (createDistribution=true, --create-distribution)`);
}
