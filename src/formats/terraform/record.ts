import type { PackageRecord } from '../../core/format.js';

/** A version of a module (`HOST/<repo>/<name>/<system>`): its archive as published. */
export interface ModuleRecord extends PackageRecord {
  kind: 'module';
  name: string;
  system: string;
  version: string;
  archive: 'tar.gz' | 'zip';
  size: number;
  sha256: string;
}

/** A provider package (`HOST/<repo>/<type>`) for one platform. */
export interface ProviderRecord extends PackageRecord {
  kind: 'provider';
  type: string;
  version: string;
  os: string;
  arch: string;
  /** `terraform-provider-<type>_<version>_<os>_<arch>.zip`, as SHA256SUMS names it. */
  filename: string;
  protocols: string[];
  size: number;
  sha256: string;
}

/** A provider of another registry, mirrored (`<hostname>/<namespace>/<type>` for the network mirror protocol). */
export interface MirrorRecord extends PackageRecord {
  kind: 'mirror';
  hostname: string;
  namespace: string;
  type: string;
  version: string;
  os: string;
  arch: string;
  filename: string;
  size: number;
  sha256: string;
  /** Terraform's `h1:` hash of the unpacked files. */
  h1: string;
}

export type TerraformRecord = ModuleRecord | ProviderRecord | MirrorRecord;

/** Where each kind's lists are (the snapshot's first level). */
export const LISTS = { module: 'modules', provider: 'providers', mirror: 'mirror' } as const;

/** The name a record is listed under: the module, the provider type, or the mirrored provider's address. */
export function nameOf(r: TerraformRecord): string {
  return r.kind === 'module' ? `${r.name}/${r.system}` : r.kind === 'provider' ? r.type : `${r.hostname}/${r.namespace}/${r.type}`;
}

/** The platform a record is for (`linux_amd64`), or `module`. */
export function platformOf(r: TerraformRecord): string {
  return r.kind === 'module' ? 'module' : `${r.os}_${r.arch}`;
}

/** Where its bytes are in the pool. */
export function poolPathOf(r: TerraformRecord): string {
  if (r.kind === 'module') return `modules/${r.name}/${r.system}/${r.version}.${r.archive}`;
  if (r.kind === 'provider') return `providers/${r.type}/${r.version}/${r.filename}`;
  return `mirror/${r.hostname}/${r.namespace}/${r.type}/${r.filename}`;
}
