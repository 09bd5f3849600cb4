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

/** What formatEvr printed, read back (rpm allows no `-` in a version or a release). */
export function parseEvr(text: string): Evr {
  const colon = /^(\d+):/.exec(text);
  const rest = colon ? text.slice(colon[0].length) : text;
  const dash = rest.lastIndexOf('-');
  return { epoch: colon ? colon[1]! : '0', version: dash === -1 ? rest : rest.slice(0, dash), release: dash === -1 ? '' : rest.slice(dash + 1) };
}

/** A piece of a version as rpmvercmp reads it: `~`, `^`, a run of digits (without its leading zeros) or of letters. */
export interface VersionToken {
  kind: '~' | '^' | 'digits' | 'letters';
  text: string;
}

/** A version's tokens; anything else only separates and is dropped. */
export function versionTokens(s: string): VersionToken[] {
  const out: VersionToken[] = [];
  for (let i = 0; i < s.length; ) {
    const c = s[i]!;
    if (c === '~' || c === '^') {
      out.push({ kind: c, text: c });
      i++;
      continue;
    }
    const inRun = isDigit(s, i) ? isDigit : isAlpha(s, i) ? isAlpha : undefined;
    if (!inRun) {
      i++;
      continue;
    }
    let end = i;
    while (inRun(s, end)) end++;
    if (inRun === isDigit) {
      while (i < end - 1 && s[i] === '0') i++;
      out.push({ kind: 'digits', text: s[i] === '0' ? '' : s.slice(i, end) });
    } else {
      out.push({ kind: 'letters', text: s.slice(i, end) });
    }
    i = end;
  }
  return out;
}

/**
 * Orders two version (or release) strings exactly as rpm's rpmvercmp(): runs of ASCII digits
 * compare as numbers of any length, runs of ASCII letters as bytes, a digit run beats a letter
 * run, anything else only separates. `~` sorts before everything, even the end of the string
 * (1.0~rc1 < 1.0); `^` sorts after the end but before anything else (1.0 < 1.0^git1 < 1.0.1).
 */
export function rpmvercmp(a: string, b: string): -1 | 0 | 1 {
  return a === b ? 0 : compareVersionTokens(versionTokens(a), versionTokens(b));
}

/**
 * rpmvercmp on tokens. It stops at the first difference, so its work is bounded by the shorter
 * side: comparing many versions with one, tokenize that one once.
 */
export function compareVersionTokens(a: readonly VersionToken[], b: readonly VersionToken[]): -1 | 0 | 1 {
  let i = 0;
  for (; ; i++) {
    const ta = a[i];
    const tb = b[i];
    if (ta?.kind === '~' || tb?.kind === '~') {
      if (ta?.kind !== '~') return 1;
      if (tb?.kind !== '~') return -1;
      continue;
    }
    if (ta?.kind === '^' || tb?.kind === '^') {
      if (!ta) return -1;
      if (!tb) return 1;
      if (ta.kind !== '^') return 1;
      if (tb.kind !== '^') return -1;
      continue;
    }
    if (!ta || !tb) return !ta && !tb ? 0 : !ta ? -1 : 1;
    // Digits are newer than letters.
    if (ta.kind !== tb.kind) return ta.kind === 'digits' ? 1 : -1;
    if (ta.kind === 'digits' && ta.text.length !== tb.text.length) return ta.text.length > tb.text.length ? 1 : -1;
    if (ta.text !== tb.text) return ta.text > tb.text ? 1 : -1;
  }
}

/** Orders two packages' versions as rpm does: epoch (numerically), then version, then release. */
export function compareEvr(a: Evr, b: Evr): -1 | 0 | 1 {
  return rpmvercmp(a.epoch || '0', b.epoch || '0') || rpmvercmp(a.version, b.version) || rpmvercmp(a.release, b.release);
}

// rpm's ctype is ASCII-only: every other character, UTF-8 or not, is a separator.
function isDigit(s: string, i: number): boolean {
  const c = s.charCodeAt(i); // NaN past the end
  return c >= 48 && c <= 57;
}

function isAlpha(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
