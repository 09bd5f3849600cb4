import { storeIndex, type PublishContext } from '../../core/publish-context.js';
import type { Draft } from '../../core/format.js';
import { own } from '../../util/own.js';
import { shasumsPath } from './protocol.js';
import { LISTS, type ProviderRecord } from './record.js';

const encoder = new TextEncoder();

/**
 * What a publish writes of a Terraform repository: each provider version's `SHA256SUMS`, signed
 * (a binary detached signature, as Terraform reads it). Everything else a client asks for is
 * answered from the lists (protocol.ts). A version is signed again only when its packages changed.
 */
export async function renderTerraform(ctx: PublishContext, draft: Draft): Promise<void> {
  const { repo, lists, files, rendered, previous } = draft;
  const versions = new Map<string, ProviderRecord[]>();
  const types = own(lists, LISTS.provider) ?? {};
  for (const [type, byPlatform] of Object.entries(types)) {
    for (const shards of Object.values(byPlatform)) {
      for (const key of Object.values(shards)) {
        for (const r of await ctx.store.meta<ProviderRecord[]>(key)) versions.set(shasumsPath(type, r.version), [...(versions.get(shasumsPath(type, r.version)) ?? []), r]);
      }
    }
  }
  // Versions gone: their files go with them.
  for (const path of Object.keys(files)) {
    if (!path.startsWith('providers/')) continue;
    const sums = path.endsWith('.sig') ? path.slice(0, -4) : path;
    if (!versions.has(sums)) {
      delete files[path];
      delete rendered[sums];
    }
  }
  for (const [path, records] of versions) {
    const text = records.map((r) => `${r.sha256}  ${r.filename}\n`).sort().join('');
    // Signed again when the server's keys change: the download answer lists the current ones.
    const inputs = JSON.stringify([text, ctx.signer.fingerprints]);
    if (own(rendered, path) === inputs && own(files, path) && own(files, `${path}.sig`)) continue;
    const sums = encoder.encode(text);
    files[path] = await storeIndex(ctx, repo, sums, ['SHA256'], ['sha256'], own(previous, path));
    files[`${path}.sig`] = await storeIndex(ctx, repo, await ctx.signer.detachSignBinary(sums), ['SHA256'], ['sha256']);
    rendered[path] = inputs;
  }
}
