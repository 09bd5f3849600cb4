import { CliError } from './client.js';

/**
 * The running GitHub Actions job's OIDC token for `audience`, from the runner's token service:
 * CI authenticates with what a repository's trust policy accepts, no stored secret. The job
 * needs `permissions: id-token: write`, which puts the service's address in the environment.
 */
export async function githubActionsToken(audience: string): Promise<string> {
  const url = process.env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const bearer = process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!url || !bearer) throw new CliError('--oidc-audience works inside a GitHub Actions job with "permissions: id-token: write" (ACTIONS_ID_TOKEN_REQUEST_URL is not set)');
  const target = new URL(url);
  target.searchParams.set('audience', audience);
  const res = await fetch(target, { headers: { authorization: `bearer ${bearer}`, accept: 'application/json' } });
  const body = (await res.json().catch(() => null)) as { value?: unknown } | null;
  if (!res.ok || typeof body?.value !== 'string') throw new CliError(`GitHub's OIDC token service answered ${res.status} without a token`);
  return body.value;
}
