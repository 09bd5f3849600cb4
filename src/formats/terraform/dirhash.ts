import type { HasherFactory } from '../../util/hash.js';
import { badPackage } from '../../util/errors.js';
import { inflateChunks, zipEntries } from './zip.js';

/**
 * Terraform's `h1:` hash of a provider zip (getproviders.PackageHashV1 on an archive, which is
 * x/mod's dirhash.HashZip with Hash1): for every name in the zip's central directory, sorted
 * (byte order), the line `<sha256 hex of its content>  <name>\n`; the SHA-256 of those lines,
 * base64. Directory entries count as names with empty content, as in HashZip; for a zip without
 * them (what providers ship) this equals the hash of the unpacked directory. Each entry is
 * inflated in chunks into an incremental hasher, so a large executable is never held whole.
 */
export async function providerHashV1(zip: Uint8Array, createHasher: HasherFactory): Promise<string> {
  const entries = zipEntries(zip);
  // HashZip maps a repeated name to its last entry and lists the name as often as it occurs.
  const byName = new Map(entries.map((entry) => [entry.name, entry]));
  const names = entries.map((entry) => entry.name).sort(compareBytes);
  const digests = new Map<string, string>();
  let lines = '';
  for (const name of names) {
    if (name.includes('\n')) throw badPackage('bad-archive', `zip entry ${JSON.stringify(name)} has a newline in its name, which h1: cannot hash`);
    let digest = digests.get(name);
    if (digest === undefined) {
      const hasher = createHasher(['sha256']);
      for (const chunk of inflateChunks(zip, byName.get(name)!)) await hasher.update(chunk);
      digest = (await hasher.digest()).sha256;
      digests.set(name, digest);
    }
    lines += `${digest}  ${name}\n`;
  }
  const sum = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(lines)));
  let binary = '';
  for (const b of sum) binary += String.fromCharCode(b);
  return `h1:${btoa(binary)}`;
}

/** Go sorts strings by bytes; UTF-16 order differs for characters beyond the BMP. */
function compareBytes(a: string, b: string): number {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}
