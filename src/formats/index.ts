// The registry of package formats: the one module outside a format's folder that names it.
// Adding a format is a folder implementing `Format` (src/core/format.ts) and a line here.
import { PackyardError } from '../util/errors.js';
import type { AnyFormat, Formats } from '../core/format.js';
import { debFormat } from './deb/format.js';
import { rpmFormat } from './rpm/format.js';
import { terraformFormat } from './terraform/format.js';

const ALL: readonly AnyFormat[] = [debFormat, rpmFormat, terraformFormat];

/** Every format this build serves; the first is the default type of a new repository. */
export const formats: Formats = {
  types: ALL.map((f) => f.type),
  defaultType: ALL[0]!.type,
  get(type) {
    const format = ALL.find((f) => f.type === type);
    if (!format) throw new PackyardError(400, 'invalid-request', `type: must be one of ${ALL.map((f) => f.type).join(', ')}, not "${type}"`);
    return format;
  },
  of(snapshot) {
    const format = ALL.find((f) => f.type === snapshot.type);
    if (!format) throw new PackyardError(500, 'unknown-format', `repository ${snapshot.repo} is of type "${snapshot.type}", which this Packyard does not serve (made by a newer one?): upgrade Packyard`);
    return format;
  },
  forFiles(names) {
    return ALL.find((f) => names.length > 0 && names.every((name) => f.extensions.some((ext) => name.toLowerCase().endsWith(ext))));
  },
};
