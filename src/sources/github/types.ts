import { z } from 'zod';

/** The kind of source GitHub is (`RemoteObject.source` of what it publishes). */
export const SOURCE = 'github';

/** A release asset, with the fields Packyard uses (GitHub sends more; they are dropped). */
const assetSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  size: z.number().int().nonnegative(),
  content_type: z.string(),
  /** `sha256:<hex>` on assets uploaded since mid-2025, null (or absent on older servers) before. */
  digest: z.string().nullable().optional().transform((d) => d ?? null),
  state: z.string().optional(),
  browser_download_url: z.string(),
  /** The assets API URL (`…/releases/assets/{id}`). */
  url: z.string(),
  updated_at: z.string().optional(),
});

export const releaseSchema = z.object({
  id: z.number().int(),
  tag_name: z.string(),
  name: z.string().nullable(),
  draft: z.boolean(),
  prerelease: z.boolean(),
  published_at: z.string().nullable(),
  assets: z.array(assetSchema),
});

export const repositorySchema = z.object({
  id: z.number().int(),
  full_name: z.string(),
  private: z.boolean(),
});

export const tagSchema = z.object({
  name: z.string(),
  commit: z.object({ sha: z.string() }),
  tarball_url: z.string(),
});

export type GitHubTag = z.infer<typeof tagSchema>;
export type GitHubAsset = z.infer<typeof assetSchema>;
export type GitHubRelease = z.infer<typeof releaseSchema>;
export type GitHubRepository = z.infer<typeof repositorySchema>;

/** The SHA-256 hex of an asset's `digest`, when GitHub gives one (and it is SHA-256). */
export function assetSha256(asset: Pick<GitHubAsset, 'digest'>): string | undefined {
  const m = asset.digest ? /^sha256:([0-9a-f]{64})$/i.exec(asset.digest) : null;
  return m ? m[1]!.toLowerCase() : undefined;
}

/** `owner/name`, checked (GitHub's characters) so that it cannot reach another path. */
export function checkRepoName(repo: string): { owner: string; name: string } {
  const m = /^([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))\/([A-Za-z0-9._-]{1,100})$/.exec(repo);
  if (!m || m[2] === '.' || m[2] === '..') throw new TypeError(`not a GitHub repository name (owner/name): ${JSON.stringify(repo)}`);
  return { owner: m[1]!, name: m[2]! };
}
