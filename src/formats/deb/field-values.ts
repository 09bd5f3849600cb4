import { badPackage } from '../../util/errors.js';
import { type ControlParagraph, checkLength } from './control.js';

/** apt compares Multi-Arch case-sensitively (dpkg does not): another spelling would mean `no` to apt. */
const MULTI_ARCH = new Set(['no', 'same', 'foreign', 'allowed']);
/** Flags apt reads as yes or no, warning on every update about anything else; dpkg refuses it. */
const FLAGS = ['Essential', 'Protected', 'Important'];

/**
 * Refuses field values apt would warn about on every `apt-get update` of every client, and dpkg
 * would refuse or read otherwise; and a Section too long for apt's cache.
 */
export function checkFieldValues(control: ControlParagraph, architecture: string): void {
  const section = control.get('Section');
  if (section !== undefined) checkLength('Section', 'section', section);
  const multiArch = control.get('Multi-Arch');
  if (multiArch !== undefined) {
    if (!MULTI_ARCH.has(multiArch)) throw invalid('Multi-Arch', multiArch, 'expected no, same, foreign or allowed');
    if (multiArch === 'same' && architecture === 'all') throw invalid('Multi-Arch', multiArch, 'an Architecture: all package cannot be Multi-Arch: same');
  }
  for (const flag of FLAGS) {
    const value = control.get(flag);
    if (value !== undefined && !/^(yes|no)$/i.test(value)) throw invalid(flag, value, 'expected yes or no');
  }
}

function invalid(field: string, value: string, detail: string) {
  return badPackage('invalid-field-value', `control file: field "${field}": ${JSON.stringify(value)}: ${detail}`);
}
