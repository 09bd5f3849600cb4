// What one package may put into repodata. Every client loads primary.xml and filelists.xml whole,
// so one package over these limits would make the repository slow or impossible to load for
// everyone: it is refused at upload instead. Measured with dnf 4.14 (libsolv 0.7.23, expat 2.5)
// on repodata of one package, and kept well inside what it copes with:
//   - a dependency nested 50,000 levels deep ("(a or (a or …))") crashes dnf (signal 11, a
//     recursive parser); 20,000 levels load;
//   - one dependency name of 4 MB takes dnf 1.6 s to load, 16 MB 17 s (quadratic); 64 KiB, 0.3 s;
//   - 1,000,000 requires in one package take 73 s, 500,000 5.4 s, 100,000 0.6 s;
//   - 1,000,000 files load in 2.8 s (40 MB of filelists.xml), 3,000,000 in 7.7 s (610 MB of memory);
//   - a description of 64 MB loads in 1.1 s: text fields are limited for the size of primary.xml,
//     which every client downloads, not for dnf.
// Control characters need no limit: repodata drops those XML 1.0 cannot hold (see repodata.ts).
import { badPackage } from '../../util/errors.js';

export const RPM_LIMITS = {
  /** Files in one package. */
  files: 1_000_000,
  /** One file path: Linux's PATH_MAX, beyond which no file can be installed anyway. */
  pathLength: 4096,
  /** All file paths of one package together: directory names are repeated for every file in them. */
  pathsTotal: 32 * 1024 * 1024,
  /** Dependencies of one package, all kinds together. */
  dependencies: 100_000,
  /** A dependency's name or version, a one-line field (summary, license, URL, …), a changelog author. */
  lineLength: 64 * 1024,
  /** The description, one changelog entry's text. */
  textLength: 1024 * 1024,
  /** Parentheses open at once in a rich dependency; real ones nest a few levels. */
  dependencyDepth: 64,
} as const;

export const format = (n: number) => n.toLocaleString('en-US');

/** At most `max` of something (`what`, plural) in one package; `code` names the refusal. */
export function checkCount(code: string, what: string, count: number, max: number): void {
  if (count > max) throw badPackage(code, `the package has ${format(count)} ${what}, over the limit of ${format(max)}`);
}

/** `value` itself, once its length is within `max`; `what` names it, made only for the message. */
export function checkedLength(value: string, max: number, what: () => string): string {
  if (value.length > max) throw badPackage('field-too-long', `${what()} is ${format(value.length)} characters long, over the limit of ${format(max)}`);
  return value;
}

/** A dependency name of bounded length and nesting. */
export function checkDependency(name: string, what: () => string): void {
  checkedLength(name, RPM_LIMITS.lineLength, what);
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x28) deepest = Math.max(deepest, ++depth);
    else if (c === 0x29 && depth > 0) depth--;
  }
  if (deepest > RPM_LIMITS.dependencyDepth) {
    throw badPackage('dependency-too-deep', `${what()} nests ${deepest} parentheses deep, over the limit of ${RPM_LIMITS.dependencyDepth}`);
  }
}
