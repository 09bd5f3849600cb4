import { badPackage } from '../../util/errors.js';
import { safePath } from './archive-paths.js';
import { zipEntries } from './zip.js';

/** The platform build a provider zip is uploaded as. */
export interface ProviderTarget {
  type: string;
  version: string;
  os: string;
  arch: string;
}

export interface ProviderArchive {
  /** The provider executable at the zip's top level. */
  executable: string;
}

/**
 * Checks that a provider zip holds, at its top level, the executable Terraform looks for:
 * `terraform-provider-<type>`, optionally `_v<version>` (and the `_x<protocol>` HashiCorp's own
 * builds add), with `.exe` on Windows. Reads only the central directory: a provider's
 * executable is large and Terraform checks it by hash, not here.
 */
export async function checkProviderArchive(zip: Uint8Array, target: ProviderTarget): Promise<ProviderArchive> {
  if (!(zip[0] === 0x50 && zip[1] === 0x4b && (zip[2] === 3 || zip[2] === 5))) throw badPackage('bad-archive', 'a provider package must be a zip');
  const entries = zipEntries(zip);
  for (const entry of entries) safePath(entry.name);
  const exe = target.os === 'windows' ? '\\.exe' : '';
  const pattern = new RegExp(`^terraform-provider-${escape(target.type)}(_v${escape(target.version)}(_x\\d+)?)?${exe}$`);
  const found = entries.find((entry) => !entry.directory && pattern.test(entry.name) && ((entry.mode ?? 0) & 0o170000) !== 0o120000 && entry.size > 0);
  if (!found) {
    const base = `terraform-provider-${target.type}`;
    const suffix = target.os === 'windows' ? '.exe' : '';
    const top = entries.filter((entry) => !entry.name.slice(0, -1).includes('/')).map((entry) => JSON.stringify(entry.name));
    throw badPackage(
      'bad-provider',
      `the zip for ${target.type} ${target.version} ${target.os}_${target.arch} must hold a non-empty file ${base}${suffix} or ${base}_v${target.version}${suffix} at its top level; it holds ${top.length ? top.join(', ') : 'nothing there'}`,
    );
  }
  return { executable: found.name };
}


function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

