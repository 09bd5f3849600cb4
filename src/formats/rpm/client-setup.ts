import { distributionsOf, type Snapshot } from '../../core/snapshot.js';

/** For an RPM repository: the `.repo` file of each distribution, for /etc/yum.repos.d/. */
export function dnfSetup(url: string, snapshot: Snapshot): string[] {
  const repo = snapshot.repo;
  const dists = distributionsOf(snapshot);
  const lines = [`Repository ${repo} (RPM): on each machine, run`];
  if (dists.length === 0) lines.push(`  (no distribution yet: upload a package with --distribution, e.g. el9)`);
  for (const dist of dists) lines.push(`  curl -fsSL ${url}/${repo}/${dist}.repo | sudo tee /etc/yum.repos.d/${repo}-${dist}.repo`);
  if (!snapshot.settings.public) lines.push(`  # ${repo} is private: put a read token (packyard token create --repo ${repo} --scope read) in the file's password= line`);
  return lines;
}
