import { storeIndex, type PublishContext } from '../../core/publish-context.js';
import { distributionsOf, type Snapshot } from '../../core/snapshot.js';
import type { Draft } from '../../core/format.js';
import { readBytes } from '../../storage/types.js';
import { buildRepodata, redatedRepomd, REPODATA_TYPES, type PieceTable, type PreviousDocument, type RepodataType } from './repodata.js';
import type { RpmRecord } from './record.js';
import { own } from '../../util/own.js';
import { PackyardError } from '../../util/errors.js';

/** RPM lists live under one pseudo-component in the snapshot's lists. */
export const LISTS = 'rpm';
/** Packages for every architecture, listed in each architecture's repodata. */
export const NOARCH = 'noarch';

/** The architecture folders of a distribution and the list shards each one's repodata lists. */
export function archFolders(settings: Snapshot['settings'], byArch: Record<string, Record<string, string>>): [string, Record<string, string>[]][] {
  const folders = [...new Set([...settings.architectures, ...Object.keys(byArch)])].filter((a) => a !== NOARCH).sort();
  return folders.map((arch) => [arch, [own(byArch, arch) ?? {}, arch === 'src' ? {} : (own(byArch, NOARCH) ?? {})]]);
}

const piecesTag = (dir: string, type: RepodataType) => `${dir}/repodata/${type}`;

/** The repodata documents `dir` has published, for buildRepodata to reuse their pieces. */
function previousDocuments(ctx: PublishContext, files: Snapshot['files'], rendered: Snapshot['rendered'], dir: string): Partial<Record<RepodataType, PreviousDocument>> {
  const previous: Partial<Record<RepodataType, PreviousDocument>> = {};
  for (const type of REPODATA_TYPES) {
    const table = rendered[piecesTag(dir, type)];
    const path = Object.keys(files).find((p) => p.startsWith(`${dir}/repodata/`) && p.endsWith(`-${type}.xml.gz`));
    if (table && path) previous[type] = { table: JSON.parse(table) as PieceTable, bytes: () => readBytes(ctx.store.storage, files[path]!.key) };
  }
  return previous;
}

/**
 * For every distribution and architecture whose packages changed, its repodata (primary,
 * filelists, other, a signed repomd.xml). Superseded repodata stays reachable by its
 * checksum-prefixed name (stored by hash) for the grace period, as APT's by-hash files do.
 */
export async function renderRepodata(ctx: PublishContext, draft: Draft): Promise<void> {
  const { repo, settings, lists, files, rendered, date } = draft;
  for (const distribution of distributionsOf({ lists, settings })) {
    for (const [arch, shards] of archFolders(settings, own(own(lists, distribution), LISTS) ?? {})) {
      const dir = `${distribution}/${arch}`;
      const inputs = JSON.stringify(shards);
      if (own(rendered, dir) === inputs) continue;
      const records: RpmRecord[] = [];
      for (const keys of shards) for (const key of Object.values(keys)) for (const r of await ctx.store.meta<RpmRecord[]>(key)) records.push(r);
      const previous = previousDocuments(ctx, files, rendered, dir);
      const repodata = await buildRepodata(records, { gzip: ctx.gzip, gunzip: ctx.gunzip, createHasher: ctx.createHasher, signer: ctx.signer, now: () => date }, { previous });
      for (const path of Object.keys(files)) if (path.startsWith(`${dir}/repodata/`)) delete files[path];
      // dnf finds repodata by its checksum-prefixed name: one stored copy, under SHA256.
      const stored = await Promise.all(repodata.files.map((file) => storeIndex(ctx, repo, file.bytes, ['SHA256'], ['sha256'])));
      repodata.files.forEach((file, i) => (files[`${dir}/${file.path}`] = stored[i]!));
      rendered[dir] = inputs;
      for (const type of REPODATA_TYPES) rendered[piecesTag(dir, type)] = JSON.stringify(repodata.pieces[type]);
    }
  }
}

/** A rollback's re-signing: each repomd.xml of the distribution dated anew and signed, naming the same repodata files. */
export async function resignRepodata(ctx: PublishContext, draft: Draft, distribution: string): Promise<void> {
  const { repo, files, date } = draft;
  const roots = Object.keys(files).filter((path) => path.startsWith(`${distribution}/`) && path.endsWith('/repodata/repomd.xml'));
  await Promise.all(
    roots.map(async (path) => {
      const stored = await readBytes(ctx.store.storage, files[path]!.key);
      if (!stored) throw new PackyardError(409, 'snapshot-collected', `${path} of the snapshot is no longer stored (collected by gc)`);
      const repomd = new TextEncoder().encode(redatedRepomd(new TextDecoder().decode(stored), date));
      const signature = new TextEncoder().encode(await ctx.signer.detachSign(repomd));
      [files[path], files[`${path}.asc`]] = await Promise.all([storeIndex(ctx, repo, repomd, ['SHA256'], ['sha256']), storeIndex(ctx, repo, signature, ['SHA256'], ['sha256'])]);
    }),
  );
}
