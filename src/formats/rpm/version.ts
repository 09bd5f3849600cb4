/** A package's epoch, version and release, as in RpmRecord ("" epoch counts as "0"). */
export interface Evr {
  epoch: string;
  version: string;
  release: string;
}

/** `epoch:version-release` as rpm prints it: the epoch only when it is not 0. */
export function formatEvr(r: Evr): string {
  return `${r.epoch === '0' || r.epoch === '' ? '' : `${r.epoch}:`}${r.version}-${r.release}`;
}

/**
 * Orders two version (or release) strings exactly as rpm's rpmvercmp(): runs of ASCII digits
 * compare as numbers of any length, runs of ASCII letters as bytes, a digit run beats a letter
 * run, anything else only separates. `~` sorts before everything, even the end of the string
 * (1.0~rc1 < 1.0); `^` sorts after the end but before anything else (1.0 < 1.0^git1 < 1.0.1).
 */
export function rpmvercmp(a: string, b: string): -1 | 0 | 1 {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while (i < a.length && isSeparator(a, i)) i++;
    while (j < b.length && isSeparator(b, j)) j++;
    const ca = a[i];
    const cb = b[j];
    if (ca === '~' || cb === '~') {
      if (ca !== '~') return 1;
      if (cb !== '~') return -1;
      i++;
      j++;
      continue;
    }
    if (ca === '^' || cb === '^') {
      if (ca === undefined) return -1;
      if (cb === undefined) return 1;
      if (ca !== '^') return 1;
      if (cb !== '^') return -1;
      i++;
      j++;
      continue;
    }
    if (ca === undefined || cb === undefined) break;

    const numeric = isDigit(a, i);
    const inRun = numeric ? isDigit : isAlpha;
    let endA = i;
    while (inRun(a, endA)) endA++;
    let endB = j;
    while (inRun(b, endB)) endB++;
    // b has a run of the other kind here: digits are newer than letters.
    if (endB === j) return numeric ? 1 : -1;
    let runA = a.slice(i, endA);
    let runB = b.slice(j, endB);
    if (numeric) {
      runA = runA.replace(/^0+/, '');
      runB = runB.replace(/^0+/, '');
      if (runA.length !== runB.length) return runA.length > runB.length ? 1 : -1;
    }
    if (runA !== runB) return runA > runB ? 1 : -1;
    i = endA;
    j = endB;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

/** Orders two packages' versions as rpm does: epoch (numerically), then version, then release. */
export function compareEvr(a: Evr, b: Evr): -1 | 0 | 1 {
  return rpmvercmp(a.epoch || '0', b.epoch || '0') || rpmvercmp(a.version, b.version) || rpmvercmp(a.release, b.release);
}

/** rpm's ctype is ASCII-only: every other character, UTF-8 or not, is a separator. */
function isSeparator(s: string, i: number): boolean {
  const c = s[i]!;
  return c !== '~' && c !== '^' && !isDigit(s, i) && !isAlpha(s, i);
}

function isDigit(s: string, i: number): boolean {
  const c = s.charCodeAt(i); // NaN past the end
  return c >= 48 && c <= 57;
}

function isAlpha(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
