/** Where the heartbeat keeps each repository's last result: outside the repository's folder, so gc never sweeps it. */
export const checkLayout = {
  last: (repo: string) => `system/checks/${repo}.json`,
};

/** The key that signs short-lived download URLs (url-signer.ts): made on first use, kept like the signing keys. */
export const urlSigningLayout = {
  key: 'system/url-signing-key.json',
};
