import { distributionsOf, type Snapshot } from '../../core/snapshot.js';
import { own } from '../../util/own.js';

/**
 * The commands a user pastes on a client machine to use a repository, with signature checking
 * on; for a private one, with its read token when there is one to show.
 */
export function aptSetup(url: string, snapshot: Snapshot, readToken?: string): string[] {
  const repo = snapshot.repo;
  const dists = distributionsOf(snapshot);
  const lines = [`Repository ${repo}: on each machine, run`, `  sudo install -d /etc/apt/keyrings`, `  curl -fsSL ${url}/${repo}/public.gpg | sudo tee /etc/apt/keyrings/${repo}.gpg >/dev/null`];
  if (!snapshot.settings.public) lines[0] += ` (private: apt reads it with a token${readToken ? ', shown once' : ''})`;
  if (dists.length === 0) {
    lines.push(`  echo "deb [signed-by=/etc/apt/keyrings/${repo}.gpg] ${url}/${repo} <distribution> main" | sudo tee /etc/apt/sources.list.d/${repo}.list`, '  (no distribution yet: upload a package to create one)');
  }
  for (const dist of dists) {
    const components = new Set([...Object.keys(own(snapshot.lists, dist) ?? {}), ...(own(snapshot.settings.distributions, dist)?.components ?? [])]);
    lines.push(`  echo "deb [signed-by=/etc/apt/keyrings/${repo}.gpg] ${url}/${repo} ${dist} ${[...components].sort().join(' ') || 'main'}" | sudo tee -a /etc/apt/sources.list.d/${repo}.list`);
  }
  if (!snapshot.settings.public) {
    // apt matches a plain-http entry only when it names http:// itself, so the URL goes in whole.
    if (!readToken) lines.push(`  # ${repo} is private: make a read token once (packyard token create --repo ${repo} --scope read --name fleet), then`);
    lines.push(
      `  echo "machine ${url}/${repo} login apt password ${readToken ?? '<token>'}" | sudo tee /etc/apt/auth.conf.d/${repo}.conf >/dev/null`,
      `  sudo chmod 600 /etc/apt/auth.conf.d/${repo}.conf`,
    );
  }
  lines.push('  sudo apt-get update');
  return lines;
}
