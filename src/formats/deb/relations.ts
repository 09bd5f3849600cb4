import { PackyardError, badPackage } from '../../util/errors.js';
import { type ControlParagraph, MAX_ARCHITECTURE_BYTES, checkLength } from './control.js';
import { parseVersion } from './version.js';

/**
 * The relationship fields dpkg parses in a binary package. apt parses them too, and one it
 * cannot parse ("Problem parsing dependency") fails apt-get update for the whole index.
 */
const RELATION_FIELDS = ['Pre-Depends', 'Depends', 'Recommends', 'Suggests', 'Enhances', 'Breaks', 'Conflicts', 'Replaces', 'Provides'];
/** dpkg allows `|` only in the other fields. */
const NO_ALTERNATIVES = new Set(['Breaks', 'Conflicts', 'Replaces', 'Provides']);

/** What dpkg accepts: its pkg_name_is_illegal() and dpkg_arch_name_is_illegal(). */
const NAME = /^[A-Za-z0-9][A-Za-z0-9+._-]*$/;
const ARCH = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
/** `<` and `>` are obsolete forms of `<=` and `>=` that dpkg and apt still read. */
const OPERATORS = new Set(['', '<<', '<=', '=', '>=', '>>', '<', '>']);

/** Refuses relationship fields that dpkg would refuse or apt could not parse. */
export function checkRelations(control: ControlParagraph): void {
  for (const field of RELATION_FIELDS) {
    const value = control.get(field);
    if (value) checkField(field, value); // dpkg ignores an empty field, and so does apt
  }
}

function checkField(field: string, value: string): void {
  for (const relation of value.split(',')) {
    const alternatives = relation.split('|');
    if (alternatives.length > 1 && NO_ALTERNATIVES.has(field)) {
      throw bad(field, relation, 'alternatives ("|") are not allowed in this field');
    }
    for (const alternative of alternatives) checkAlternative(field, alternative);
  }
}

function checkAlternative(field: string, text: string): void {
  const parsed = splitAlternative(text);
  if (!parsed) throw bad(field, text, 'expected "name", "name:arch" or "name (op version)"');
  const { name, arch, operator, version } = parsed;
  if (name === '') throw bad(field, text, 'missing package name');
  checkLength(field, 'package name', name);
  if (!NAME.test(name)) throw bad(field, text, `invalid package name ${JSON.stringify(name)}`);
  if (arch !== undefined) {
    checkLength(field, 'architecture qualifier', arch, MAX_ARCHITECTURE_BYTES);
    if (!ARCH.test(arch)) throw bad(field, text, `invalid architecture qualifier ${JSON.stringify(arch)}`);
  }
  if (version === undefined) return;
  checkLength(field, 'version', version);
  if (!OPERATORS.has(operator!)) throw bad(field, text, `invalid relation ${JSON.stringify(operator)}`);
  // dpkg warns, and apt ignores the entry ("Ignoring non-equal Provides"): the index would promise what apt drops.
  if (field === 'Provides' && operator !== '=') throw bad(field, text, 'only an exact version ("=") can be provided');
  try {
    parseVersion(version);
  } catch (err) {
    if (err instanceof PackyardError) throw bad(field, text, err.message);
    throw err;
  }
}

function bad(field: string, relation: string, detail: string): PackyardError {
  return badPackage('bad-relation', `control file: field "${field}", ${JSON.stringify(relation.trim())}: ${detail}`);
}

// dpkg's whitespace here is ASCII: a no-break space would be part of a name, and refused there.
const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\n';

/**
 * `name[:arch] [(op version)]`, each part split where dpkg's f_dependency() splits it. One pass
 * by hand: a regular expression with optional whitespace around each part backtracks
 * quadratically (and worse) over a long run of spaces.
 */
function splitAlternative(text: string): { name: string; arch?: string; operator?: string; version?: string } | null {
  let i = 0;
  const skipSpace = () => {
    while (isSpace(text[i])) i++;
  };
  const take = (stop: (c: string) => boolean) => {
    const start = i;
    while (i < text.length && !stop(text[i]!)) i++;
    return text.slice(start, i);
  };
  skipSpace();
  const name = take((c) => isSpace(c) || c === ':' || c === '(');
  let arch: string | undefined;
  if (text[i] === ':') {
    i++;
    arch = take((c) => isSpace(c) || c === '(');
  }
  skipSpace();
  let operator: string | undefined;
  let version: string | undefined;
  if (text[i] === '(') {
    i++;
    skipSpace();
    operator = take((c) => c !== '<' && c !== '>' && c !== '=');
    skipSpace();
    version = take((c) => isSpace(c) || c === '(' || c === ')');
    skipSpace();
    if (text[i] !== ')') return null;
    i++;
    skipSpace();
  }
  return i === text.length ? { name, arch, operator, version } : null;
}
