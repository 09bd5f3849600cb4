import { PackyardError, badPackage } from '../../util/errors.js';
import { parseVersion } from './version.js';

/** One deb822 paragraph, kept verbatim so it can be written back out unchanged. */
export interface ControlParagraph {
  /** The paragraph exactly as uploaded, without its trailing newline. */
  readonly text: string;
  /**
   * A field's value as `dpkg-deb -f` prints it (field names are case-insensitive): the text after
   * the colon without surrounding whitespace, continuation lines joined with `\n`.
   */
  get(name: string): string | undefined;
}

/**
 * apt-get update fails for the whole index ("Unable to parse package file") on a stanza over
 * about 1 MiB (apt 2.6: 1,048,700 bytes, whatever its field count or field sizes). Debian's
 * largest stanza is 76 kB (librust-winapi-dev); a quarter of apt's limit leaves room for the
 * fields the repository adds.
 */
export const MAX_CONTROL_BYTES = 256 * 1024;
/** apt has no limit of its own below the stanza size (149,000 fields parse); Debian's most is 29. */
export const MAX_CONTROL_FIELDS = 256;
/**
 * apt-get update aborts (SIGABRT) on a package name, version, source, section or relationship
 * name of 65,535 bytes or more (apt 2.6). Far below that, these keep the file name apt saves a
 * package under (`name_version_arch.deb`) within 255 bytes; Debian's longest name is 75 bytes,
 * its longest version 52.
 */
export const MAX_NAME_BYTES = 100;
export const MAX_ARCHITECTURE_BYTES = 32;
const utf8 = new TextEncoder();

/** Refuses a name, version or architecture (`what`) of field `field` over `max` bytes. */
export function checkLength(field: string, what: string, value: string, max = MAX_NAME_BYTES): void {
  const bytes = utf8.encode(value).length;
  if (bytes > max) throw badPackage('value-too-long', `control file: field "${field}": ${what} of ${bytes} bytes, over the limit of ${max}`);
}

/**
 * Fields of an index stanza, not of a package. The repository adds the first six, and a second
 * copy would make the stanza ambiguous. A malformed `Description-md5` fails apt-get update, and a
 * well-formed one (naming translations this repository does not have) can crash apt-cache show.
 */
const REPOSITORY_FIELDS = new Set(['filename', 'size', 'md5sum', 'sha1', 'sha256', 'sha512', 'description-md5']);

/** Parses a binary package's `control` file: one paragraph in UTF-8, checked as dpkg would. */
export function parseControl(bytes: Uint8Array): ControlParagraph {
  if (bytes.length > MAX_CONTROL_BYTES) {
    throw badPackage('control-file-too-large', `control file: ${bytes.length} bytes, over the limit of ${MAX_CONTROL_BYTES} (apt cannot read an index entry over about 1 MiB)`);
  }
  let text: string;
  try {
    // ignoreBOM keeps a byte-order mark in the text, where it fails as a field name, as in dpkg.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw badPackage('invalid-utf8', 'control file: not valid UTF-8');
  }
  const lines = text.split('\n');
  // Blank lines (and a final newline) may only end the paragraph.
  while (lines.length > 0 && /^[ \t]*$/.test(lines[lines.length - 1]!)) lines.pop();
  if (lines.length === 0) throw syntax('the file is empty');

  const fields = new Map<string, string>();
  let current: { key: string; value: string } | undefined;
  const store = () => {
    if (current) fields.set(current.key, current.value.trimEnd());
  };
  lines.forEach((line, i) => {
    const where = `line ${i + 1}`;
    const bad = /[\x00-\x08\x0a-\x1f\x7f]/.exec(line);
    if (bad) throw syntax(`${where}: control character U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0')}`);
    if (/^[ \t]*$/.test(line)) throw syntax(`${where}: blank line (a control file holds exactly one paragraph)`);
    if (line[0] === ' ' || line[0] === '\t') {
      if (!current) throw syntax(`${where}: continuation line before any field`);
      current.value += `\n${line}`;
      return;
    }
    const match = /^([^:]*):(.*)$/.exec(line);
    if (!match) throw syntax(`${where}: expected "Field: value"`);
    const name = match[1]!;
    // Debian policy 5.1: printable ASCII except space and colon, not starting with # or -.
    if (!/^[!-9;-~]+$/.test(name) || name[0] === '#' || name[0] === '-') {
      throw syntax(`${where}: invalid field name ${JSON.stringify(name)}`);
    }
    store();
    const key = name.toLowerCase();
    if (fields.has(key)) throw badPackage('duplicate-field', `control file: field "${name}" appears twice`);
    if (REPOSITORY_FIELDS.has(key)) throw badPackage('reserved-field', `control file: field "${name}" belongs to the repository index, not to a package`);
    if (fields.size === MAX_CONTROL_FIELDS) throw badPackage('too-many-fields', `control file: more than ${MAX_CONTROL_FIELDS} fields`);
    current = { key, value: match[2]!.replace(/^[ \t]+/, '') };
  });
  store();
  return { text: lines.join('\n'), get: (name) => fields.get(name.toLowerCase()) };
}

/** The fields a binary package record is built from, validated. */
export interface PackageIdentity {
  package: string;
  version: string;
  architecture: string;
  /** The source package's name: the `Source` field without its version, or else `Package`. */
  source: string;
  /** The `(version)` of the `Source` field, or else `Version`. */
  sourceVersion: string;
}

const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;
const ARCHITECTURE = /^[a-z0-9][a-z0-9-]*$/;

/** Checks the fields every binary package must have, with the syntax dpkg requires. */
export function packageIdentity(control: ControlParagraph): PackageIdentity {
  const required = (name: string) => {
    const value = control.get(name);
    if (!value) throw badPackage('missing-field', `control file: missing required field "${name}"`);
    return value;
  };
  const pkg = required('Package');
  checkLength('Package', 'package name', pkg);
  if (!PACKAGE_NAME.test(pkg)) {
    throw badPackage('invalid-package-name', `control file: invalid package name ${JSON.stringify(pkg)}`);
  }
  const version = required('Version');
  checkLength('Version', 'version', version);
  checkVersion(version, 'Version');
  const architecture = required('Architecture');
  checkLength('Architecture', 'architecture', architecture, MAX_ARCHITECTURE_BYTES);
  // A .deb is built for one architecture (or `all`); `any`, `linux-any` and the like are wildcards.
  if (!ARCHITECTURE.test(architecture) || architecture.split('-').includes('any') || architecture === 'source') {
    throw badPackage('invalid-architecture', `control file: invalid architecture ${JSON.stringify(architecture)}`);
  }

  const sourceField = control.get('Source');
  if (sourceField === undefined) return { package: pkg, version, architecture, source: pkg, sourceVersion: version };
  const match = /^(\S+)(?:[ \t]+\(([^()]*)\))?$/.exec(sourceField);
  if (match) checkLength('Source', 'source name', match[1]!);
  if (!match || !PACKAGE_NAME.test(match[1]!)) {
    throw badPackage('invalid-source', `control file: invalid Source field ${JSON.stringify(sourceField)}`);
  }
  const sourceVersion = match[2]?.trim() ?? version;
  checkLength('Source', 'version', sourceVersion);
  checkVersion(sourceVersion, 'Source');
  return { package: pkg, version, architecture, source: match[1]!, sourceVersion };
}

function checkVersion(version: string, field: string): void {
  try {
    parseVersion(version);
  } catch (err) {
    if (err instanceof PackyardError) throw badPackage(err.code, `control file: field "${field}": ${err.message}`);
    throw err;
  }
}

function syntax(detail: string) {
  return badPackage('bad-control-syntax', `control file: ${detail}`);
}
