// Terraform's registry protocols, answered from a snapshot's lists: the module registry
// (`versions`, `download`), the provider registry (`versions`, `download`), and the provider network
// mirror (`index.json`, `<version>.json`). Downloads go to short-lived signed URLs: Terraform sends
// its registry token to the API alone, never to the addresses it is given to download from.
import semver from 'semver';
import type { ClientView, Resolution } from '../../core/format.js';
import type { Snapshot } from '../../core/snapshot.js';
import { own } from '../../util/own.js';
import { LISTS, poolPathOf, type MirrorRecord, type ModuleRecord, type ProviderRecord, type TerraformRecord } from './record.js';

const JSON_TYPE = 'application/json';

const MODULE_LIST = /^terraform\/modules$/;
const MODULE_VERSIONS = /^terraform\/modules\/([^/]+)\/([^/]+)\/versions$/;
const MODULE_DOWNLOAD = /^terraform\/modules\/([^/]+)\/([^/]+)\/([^/]+)\/download$/;
const MODULE_LATEST = /^terraform\/modules\/([^/]+)\/([^/]+)$/;
const PROVIDER_VERSIONS = /^terraform\/providers\/([^/]+)\/versions$/;
const PROVIDER_DOWNLOAD = /^terraform\/providers\/([^/]+)\/([^/]+)\/download\/([^/]+)\/([^/]+)$/;
const MIRROR_INDEX = /^mirror\/([^/]+)\/([^/]+)\/([^/]+)\/index\.json$/;
const MIRROR_VERSION = /^mirror\/([^/]+)\/([^/]+)\/([^/]+)\/([^/]+)\.json$/;

/** The records of one name (a module, a provider type, a mirrored provider), every platform. */
async function recordsOf<R extends TerraformRecord>(snapshot: Snapshot, client: ClientView, kind: keyof typeof LISTS, name: string): Promise<R[]> {
  const byPlatform = own(own(snapshot.lists, LISTS[kind]), name);
  if (!byPlatform || !client.meta) return [];
  const out: R[] = [];
  for (const shards of Object.values(byPlatform)) for (const key of Object.values(shards)) out.push(...(await client.meta<R[]>(key)));
  return out;
}

const json = (body: unknown, status = 200): Resolution => ({ kind: 'answer', status, headers: {}, body: JSON.stringify(body), contentType: JSON_TYPE });
const newestFirst = (a: string, b: string) => semver.rcompare(a, b);

/** A signed URL to a path of the repository, absolute (the client resolves it against nothing). */
async function signed(client: ClientView, path: string): Promise<string> {
  return client.signed ? client.signed(path) : `${client.base()}/${path}`;
}

export async function resolveProtocol(path: string, snapshot: Snapshot, client: ClientView): Promise<Resolution | null> {
  let m: RegExpExecArray | null;
  if (MODULE_LIST.test(path)) return moduleList(snapshot, client);
  if ((m = MODULE_VERSIONS.exec(path))) {
    const records = await recordsOf<ModuleRecord>(snapshot, client, 'module', `${m[1]}/${m[2]}`);
    if (records.length === 0) return null;
    return json({ modules: [{ versions: records.map((r) => r.version).sort(newestFirst).map((version) => ({ version })) }] });
  }
  if ((m = MODULE_DOWNLOAD.exec(path))) {
    const version = m[3]!;
    const record = (await recordsOf<ModuleRecord>(snapshot, client, 'module', `${m[1]}/${m[2]}`)).find((r) => r.version === version);
    if (!record) return null;
    // go-getter reads `archive` to unpack; the signature stands in for the token Terraform will not send.
    const url = await signed(client, poolPathOf(record));
    const q = url.indexOf('?');
    // A tag's tarball holds one top folder (GitHub names it owner-repo-commit): `//*` is its content.
    const subdir = record.remote ? '//*' : '';
    const location = q < 0 ? `${url}${subdir}?archive=${record.archive}` : `${url.slice(0, q)}${subdir}${url.slice(q)}&archive=${record.archive}`;
    return { kind: 'answer', status: 204, headers: { 'x-terraform-get': location }, body: '', contentType: JSON_TYPE };
  }
  if ((m = MODULE_LATEST.exec(path))) {
    const [, name, system] = m;
    const versions = (await recordsOf<ModuleRecord>(snapshot, client, 'module', `${name}/${system}`)).map((r) => r.version).filter((v) => !semver.prerelease(v));
    if (versions.length === 0) return null;
    versions.sort(newestFirst);
    const version = versions[0]!;
    return json({ id: `${snapshot.repo}/${name}/${system}/${version}`, namespace: snapshot.repo, name, provider: system, version, versions });
  }
  if ((m = PROVIDER_VERSIONS.exec(path))) {
    const records = await recordsOf<ProviderRecord>(snapshot, client, 'provider', m[1]!);
    if (records.length === 0) return null;
    const byVersion = new Map<string, ProviderRecord[]>();
    for (const r of records) byVersion.set(r.version, [...(byVersion.get(r.version) ?? []), r]);
    const versions = [...byVersion.keys()].sort(newestFirst).map((version) => {
      const rs = byVersion.get(version)!;
      return { version, protocols: rs[0]!.protocols, platforms: rs.map((r) => ({ os: r.os, arch: r.arch })) };
    });
    return json({ versions });
  }
  if ((m = PROVIDER_DOWNLOAD.exec(path))) {
    const [, type, version, os, arch] = m;
    const record = (await recordsOf<ProviderRecord>(snapshot, client, 'provider', type!)).find((r) => r.version === version && r.os === os && r.arch === arch);
    if (!record) return null;
    const sums = shasumsPath(type!, version!);
    return json({
      protocols: record.protocols,
      os,
      arch,
      filename: record.filename,
      download_url: await signed(client, poolPathOf(record)),
      shasums_url: await signed(client, sums),
      shasums_signature_url: await signed(client, `${sums}.sig`),
      shasum: record.sha256,
      signing_keys: { gpg_public_keys: (client.publicKeys?.() ?? []).map((k) => ({ key_id: k.fingerprint.slice(-16), ascii_armor: k.armored })) },
    });
  }
  if ((m = MIRROR_INDEX.exec(path))) {
    const records = await recordsOf<MirrorRecord>(snapshot, client, 'mirror', `${m[1]}/${m[2]}/${m[3]}`);
    if (records.length === 0) return null;
    return json(mirrorIndex(records));
  }
  if ((m = MIRROR_VERSION.exec(path))) {
    const version = m[4]!;
    const records = (await recordsOf<MirrorRecord>(snapshot, client, 'mirror', `${m[1]}/${m[2]}/${m[3]}`)).filter((r) => r.version === version);
    if (records.length === 0) return null;
    return json(await mirrorVersion(records, (r) => signed(client, poolPathOf(r))));
  }
  return null;
}

/**
 * The namespace's modules, each at its latest stable version (or its latest), `meta`-paginated
 * as the registry protocol pages: `?offset=` and `?limit=` (at most 100), `?q=` to search names.
 */
async function moduleList(snapshot: Snapshot, client: ClientView): Promise<Resolution> {
  const query = new URLSearchParams(client.query?.() ?? '');
  const limit = Math.min(100, Math.max(1, Number(query.get('limit')) || 15));
  const offset = Math.max(0, Number(query.get('offset')) || 0);
  const q = query.get('q')?.toLowerCase();
  const names = Object.keys(own(snapshot.lists, LISTS.module) ?? {})
    .filter((n) => !q || n.toLowerCase().includes(q))
    .sort();
  const page = names.slice(offset, offset + limit);
  const modules = [];
  for (const full of page) {
    const [name, system] = full.split('/');
    const all = (await recordsOf<ModuleRecord>(snapshot, client, 'module', full)).map((r) => r.version).sort(newestFirst);
    const version = all.find((v) => !semver.prerelease(v)) ?? all[0]!;
    modules.push({ id: `${snapshot.repo}/${full}/${version}`, namespace: snapshot.repo, name, provider: system, version });
  }
  const meta: Record<string, unknown> = { limit, current_offset: offset };
  if (offset + limit < names.length) meta.next_offset = offset + limit;
  if (offset > 0) meta.prev_offset = Math.max(0, offset - limit);
  return json({ meta, modules });
}

export function mirrorIndex(records: MirrorRecord[]): { versions: Record<string, object> } {
  return { versions: Object.fromEntries([...new Set(records.map((r) => r.version))].sort(newestFirst).map((v) => [v, {}])) };
}

/** `<version>.json`: each platform's archive, its URL (as `url` says) and both hashes Terraform checks. */
export async function mirrorVersion(records: MirrorRecord[], url: (r: MirrorRecord) => Promise<string> | string): Promise<{ archives: Record<string, { url: string; hashes: string[] }> }> {
  const archives: Record<string, { url: string; hashes: string[] }> = {};
  for (const r of records) archives[`${r.os}_${r.arch}`] = { url: await url(r), hashes: [r.h1, `zh:${r.sha256}`] };
  return { archives };
}

/** Where a provider version's SHA256SUMS is (its `.sig` beside it). */
export function shasumsPath(type: string, version: string): string {
  return `providers/${type}/${version}/terraform-provider-${type}_${version}_SHA256SUMS`;
}
