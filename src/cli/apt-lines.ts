import type { Snapshot } from '../repository/snapshot.js';

/** The commands a user pastes on a client machine to use a repository, with signature checking on. */
export function aptLines(url: string, snapshot: Snapshot): string[] {
  const repo = snapshot.repo;
  const dists = [...new Set([...Object.keys(snapshot.lists), ...Object.keys(snapshot.settings.distributions)])].sort();
  const lines = [`Repository ${repo}: on each machine, run`, `  sudo install -d /etc/apt/keyrings`, `  curl -fsSL ${url}/${repo}/public.gpg | sudo tee /etc/apt/keyrings/${repo}.gpg >/dev/null`];
  if (dists.length === 0) {
    lines.push(`  echo "deb [signed-by=/etc/apt/keyrings/${repo}.gpg] ${url}/${repo} <distribution> main" | sudo tee /etc/apt/sources.list.d/${repo}.list`, '  (no distribution yet: upload a package to create one)');
  }
  for (const dist of dists) {
    const components = new Set([...Object.keys(snapshot.lists[dist] ?? {}), ...(snapshot.settings.distributions[dist]?.components ?? [])]);
    lines.push(`  echo "deb [signed-by=/etc/apt/keyrings/${repo}.gpg] ${url}/${repo} ${dist} ${[...components].sort().join(' ') || 'main'}" | sudo tee -a /etc/apt/sources.list.d/${repo}.list`);
  }
  lines.push('  sudo apt-get update');
  return lines;
}
