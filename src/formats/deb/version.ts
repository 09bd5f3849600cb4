import { badPackage } from '../../util/errors.js';

/** A Debian version split as dpkg splits it: `[epoch:]upstream[-revision]`. */
export interface DebVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

/**
 * Parses a version as `dpkg -i` does: anything dpkg reports about the syntax, error or warning,
 * rejects it (`invalid-version`), since dpkg refuses to install such a package.
 */
export function parseVersion(text: string): DebVersion {
  const { version, warning } = split(text);
  if (warning) throw invalid(text, warning);
  return version;
}

/**
 * Orders two versions exactly as `dpkg --compare-versions` (negative, 0, positive). Like it,
 * tolerates syntax dpkg only warns about (such as a leading letter) and throws on errors.
 */
export function compareVersions(a: string, b: string): number {
  const va = split(a).version;
  const vb = split(b).version;
  if (va.epoch !== vb.epoch) return va.epoch < vb.epoch ? -1 : 1;
  return Math.sign(verrevcmp(va.upstream, vb.upstream) || verrevcmp(va.revision, vb.revision));
}

/** dpkg's parseversion(): throws for its errors, returns its warning. */
function split(text: string): { version: DebVersion; warning?: string } {
  const trimmed = text.replace(/^[ \t]+|[ \t]+$/g, '');
  if (trimmed === '') throw invalid(text, 'version string is empty');
  if (/[ \t]/.test(trimmed)) throw invalid(text, 'version string has embedded spaces');

  let rest = trimmed;
  let epoch = 0;
  const colon = rest.indexOf(':');
  if (colon !== -1) {
    const digits = rest.slice(0, colon);
    if (!/^[0-9]/.test(digits)) throw invalid(text, 'epoch in version is empty');
    // Stricter than dpkg's strtol(), which would also take a sign.
    if (!/^[0-9]+$/.test(digits)) throw invalid(text, 'epoch in version is not number');
    epoch = Number(digits);
    if (epoch > 2147483647) throw invalid(text, 'epoch in version is too big');
    rest = rest.slice(colon + 1);
    if (rest === '') throw invalid(text, 'nothing after colon in version number');
  }
  const hyphen = rest.lastIndexOf('-');
  const upstream = hyphen === -1 ? rest : rest.slice(0, hyphen);
  const revision = hyphen === -1 ? '' : rest.slice(hyphen + 1);
  if (hyphen !== -1 && revision === '') throw invalid(text, 'revision number is empty');
  if (upstream === '') throw invalid(text, 'version number is empty');

  const version = { epoch, upstream, revision };
  if (!/^[0-9]/.test(upstream)) return { version, warning: 'version number does not start with digit' };
  if (!/^[0-9A-Za-z.+~:-]*$/.test(upstream)) return { version, warning: 'invalid character in version number' };
  if (!/^[0-9A-Za-z.+~]*$/.test(revision)) return { version, warning: 'invalid character in revision number' };
  return { version };
}

/** dpkg's verrevcmp(): alternating non-digit and digit runs; digit runs compare as numbers of any length. */
function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a, i)) || (j < b.length && !isDigit(b, j))) {
      const diff = order(a, i) - order(b, j);
      if (diff) return diff;
      i++;
      j++;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    let firstDiff = 0;
    while (isDigit(a, i) && isDigit(b, j)) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a, i)) return 1;
    if (isDigit(b, j)) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}

/** Sort weight of a non-digit: `~` below the end of the string, letters below other characters. */
function order(s: string, i: number): number {
  if (i >= s.length || isDigit(s, i)) return 0;
  const c = s.charCodeAt(i);
  if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return c;
  if (c === 126) return -1;
  return c + 256;
}

function isDigit(s: string, i: number): boolean {
  const c = s.charCodeAt(i); // NaN past the end
  return c >= 48 && c <= 57;
}

function invalid(text: string, reason: string) {
  return badPackage('invalid-version', `invalid version ${JSON.stringify(text)}: ${reason}`);
}
