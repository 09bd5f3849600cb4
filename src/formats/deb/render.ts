import { indexEntry, type PublishContext } from '../../core/publish-context.js';
import { distributionsOf, type FileEntry } from '../../core/snapshot.js';
import type { Draft } from '../../core/format.js';
import { buildPackagesFile, memberTable, parseMemberTable } from './packages-file.js';
import { renderComponentRelease, renderRelease } from './release.js';
import { ALL_HASHES, type Digests } from '../../util/hash.js';
import { own } from '../../util/own.js';

/** APT asks for indexes by SHA256 or SHA512 (the strongest `Release` lists); `Release` lists all four digests. */
const BY_HASH = ['SHA256', 'SHA512'] as const;
/** `InRelease`, `Release` and `Release.gpg` are fetched by name, never by hash: one stored name is enough. */
const BY_NAME = ['SHA256'] as const;
const META_FILES = new Set(['InRelease', 'Release', 'Release.gpg']);

/** Where `rendered` keeps the member table of a directory's `Packages.gz`. */
const membersTag = (dir: string) => `${dir}/Packages.gz`;

/**
 * Renders what changed of each distribution: the `Packages` (and `.gz`) of every component and
 * architecture whose list shards changed, then its `Release`, signed as `InRelease` and
 * `Release.gpg`. `rendered` keeps, per directory, the shard keys and settings it was built from,
 * and where each shard's part lies in its `Packages` and `Packages.gz` (see packages-file.ts).
 */
export async function renderDistributions(ctx: PublishContext, draft: Draft): Promise<void> {
  const { repo, previous, settings, lists, files, rendered } = draft;
  /** The file's entry at once; its bytes are stored while the rest renders (draft.writes). */
  const store = async (data: Uint8Array, previousEntry: FileEntry | undefined, digested?: Digests) => {
    const { entry, written } = await indexEntry(ctx, repo, data, BY_HASH, ALL_HASHES, previousEntry, digested);
    draft.writes.add(written);
    return entry;
  };
  const architectures = architecturesOf(draft);

  for (const distribution of distributionsOf({ lists, settings })) {
    const distSettings = own(settings.distributions, distribution) ?? {};
    const components: Record<string, Record<string, Record<string, string>>> = { ...Object.fromEntries((distSettings.components ?? []).map((c) => [c, {}])), ...own(lists, distribution) };
    const settingsTag = JSON.stringify(distSettings) + architectures.join(',');
    let dirty = own(rendered, `dists/${distribution}`) !== settingsTag;
    for (const [component, byArch] of Object.entries(components)) {
      for (const arch of architectures) {
        const dir = `dists/${distribution}/${component}/binary-${arch}`;
        const archShards = own(byArch, arch) ?? {};
        const all = own(byArch, 'all') ?? {};
        const inputs = `${JSON.stringify(archShards)}|${JSON.stringify(all)}|${settingsTag}`;
        if (own(rendered, dir) === inputs) continue;
        const before = { table: parseMemberTable(own(rendered, membersTag(dir))), gz: own(previous, `${dir}/Packages.gz`) };
        // Lists an early build stored whole are one shard each (LEGACY_SHARD), split together
        // per component when a publish touches them (ListSet): one part, rendered whole.
        const built = await buildPackagesFile(ctx, archShards, all, before, `${repo}/${dir}`);
        const componentRelease = new TextEncoder().encode(renderComponentRelease(repo, distribution, distSettings, component, arch));
        const [gz, release] = await Promise.all([store(built.gz, before.gz, built.digests.gz), store(componentRelease, own(previous, `${dir}/Release`))]);
        // `Packages` is not stored: apt fetches the `.gz` (and checks it against the size and
        // digests `Release` lists for `Packages`); anyone else gets the `.gz` decompressed.
        const packages: FileEntry = { ...built.digests.packages, key: gz.key, size: built.size, encoding: 'gzip' };
        files[`${dir}/Packages`] = packages;
        files[`${dir}/Packages.gz`] = gz;
        files[`${dir}/Release`] = release;
        rendered[membersTag(dir)] = JSON.stringify(memberTable(built.parts, packages.sha256, gz.sha256));
        rendered[dir] = inputs;
        dirty = true;
      }
    }
    if (!dirty) continue;
    await signRelease(ctx, draft, distribution, architectures, Object.keys(components).sort());
    rendered[`dists/${distribution}`] = settingsTag;
  }
}

/** The architectures every distribution's indexes are rendered for: the repository's and any listed. */
function architecturesOf({ settings, lists }: Pick<Draft, 'settings' | 'lists'>): string[] {
  const listed = new Set<string>();
  for (const components of Object.values(lists)) for (const byArch of Object.values(components)) for (const a of Object.keys(byArch)) listed.add(a);
  return [...new Set([...settings.architectures, ...listed])].filter((a) => a !== 'all').sort();
}

/** A distribution's `Release` over the index files the draft has, dated `draft.date`, stored with `InRelease` and `Release.gpg`. */
async function signRelease(ctx: PublishContext, draft: Draft, distribution: string, architectures: string[], components: string[]): Promise<void> {
  const { repo, settings, files, date } = draft;
  const prefix = `dists/${distribution}/`;
  const indexFiles: Record<string, FileEntry> = {};
  for (const [path, entry] of Object.entries(files)) {
    const rel = path.slice(prefix.length);
    if (path.startsWith(prefix) && !META_FILES.has(rel) && architectures.some((a) => rel.includes(`/binary-${a}/`))) indexFiles[rel] = entry;
  }
  const release = renderRelease({ repo, distribution, settings: own(settings.distributions, distribution) ?? {}, architectures, components, files: indexFiles, date });
  const releaseBytes = new TextEncoder().encode(release);
  const [inRelease, detached] = await Promise.all([ctx.signer.clearSign(release), ctx.signer.detachSign(releaseBytes)]);
  const encode = (text: string) => new TextEncoder().encode(text);
  const byName = async (bytes: Uint8Array) => {
    const { entry, written } = await indexEntry(ctx, repo, bytes, BY_NAME, ALL_HASHES);
    draft.writes.add(written);
    return entry;
  };
  [files[`${prefix}Release`], files[`${prefix}InRelease`], files[`${prefix}Release.gpg`]] = await Promise.all([byName(releaseBytes), byName(encode(inRelease)), byName(encode(detached))]);
}

/** A rollback's re-signing: `Release` again over the distribution's indexes as they are, with a fresh `Date`. */
export async function resignDistribution(ctx: PublishContext, draft: Draft, distribution: string): Promise<void> {
  const components = new Set([...(own(draft.settings.distributions, distribution)?.components ?? []), ...Object.keys(own(draft.lists, distribution) ?? {})]);
  await signRelease(ctx, draft, distribution, architecturesOf(draft), [...components].sort());
}
