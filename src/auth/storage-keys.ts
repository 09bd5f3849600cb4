/** Where the credentials live in storage: outside every repository's folder, so gc never sweeps them. */
export const authLayout = {
  adminToken: 'system/admin-token.json',
  tokensPrefix: 'system/tokens/',
  token: (id: string) => `system/tokens/${id}.json`,
  oidcPoliciesPrefix: (repo: string) => `system/oidc-policies/${repo}/`,
  oidcPolicy: (repo: string, id: string) => `system/oidc-policies/${repo}/${id}.json`,
};
