// How the CLI prints a repository's source, as the API shows it (secrets only as "set").
import type { GitHubSourceView } from '../sources/index.js';

export type SourceView = { github?: GitHubSourceView } & Record<string, unknown>;

/** Lines describing the source; the first names it alone ("GitHub acme/tools"). */
export function describeSource(source: SourceView): string[] {
  const g = source.github;
  if (!g) return Object.keys(source).map((kind) => `${kind} (unknown to this CLI)`);
  const auth = g.token ? 'token set' : g.app ? `GitHub App ${g.app.id}, installation ${g.app.installationId}, key set` : 'none (public repositories only)';
  return [
    `GitHub ${g.repository}${g.apiUrl === 'https://api.github.com' ? '' : ` at ${g.apiUrl}`}`,
    `releases to ${g.distribution}, prereleases ${g.prereleases ? `to ${g.prereleases}` : 'skipped'} (deb: component ${g.component})`,
    `delivery ${g.delivery}${g.delivery === 'redirect' ? ' (clients download from GitHub)' : ' (bytes pass through Packyard)'}`,
    `credentials: ${auth}; webhook secret ${g.webhookSecret ? 'set' : 'not set'}`,
  ];
}
