/** Where sources keep what is not in snapshots: outside every repository's folder, so gc never sweeps it. */
export const sourcesLayout = {
  /** A repository's source secrets (tokens, keys): read by the server, never shown back. */
  secrets: (repo: string) => `system/source-secrets/${repo}.json`,
  /** A GitHub App's installation token, by a hash of what it is for: shared by every process for its hour. */
  installationToken: (hash: string) => `system/source-secrets/installation-tokens/${hash}.json`,
  /** What the last sync saw (GitHub's page ETags and bodies), so an unchanged listing costs nothing in any process. */
  state: (repo: string) => `system/source-state/${repo}.json`,
};
