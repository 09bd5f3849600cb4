/** Where the heartbeat keeps each repository's last result: outside the repository's folder, so gc never sweeps it. */
export const checkLayout = {
  last: (repo: string) => `system/checks/${repo}.json`,
};
