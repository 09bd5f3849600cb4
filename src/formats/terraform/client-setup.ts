import type { Snapshot } from '../../core/snapshot.js';

/** For a Terraform repository: the credentials Terraform sends, and how modules, providers and the mirror are named. */
export function terraformSetup(url: string, snapshot: Snapshot, readToken?: string): string[] {
  const repo = snapshot.repo;
  const host = new URL(url).host;
  const lines = [`Repository ${repo} (Terraform registry): Terraform finds it by its host, ${host}`];
  const token = readToken ?? `<read token: packyard token create --repo ${repo} --scope read>`;
  // TF_TOKEN_ names a host without a port (dots as underscores); with a port, a credentials block does.
  if (!snapshot.settings.public) lines.push(host.includes(':') ? `  credentials "${host}" { token = "${token}" }   # in ~/.terraformrc` : `  export TF_TOKEN_${host.replace(/\./g, '_').replace(/-/g, '__')}=${token}`);
  lines.push(`  module "example" { source = "${host}/${repo}/<name>/<system>" }`);
  lines.push(`  terraform { required_providers { example = { source = "${host}/${repo}/<type>" } } }`);
  lines.push(`  provider_installation { network_mirror { url = "${url}/${repo}/mirror/" } }   # in ~/.terraformrc, for mirrored providers`);
  return lines;
}
