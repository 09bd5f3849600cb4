import { badPackage } from '../../util/errors.js';
import { readTar } from '../../util/codecs/tar.js';

/**
 * The files of a `control.tar` by path, as dpkg finds them once tar has unpacked the member.
 * Only regular files and directories are allowed, each path once: with a link or a second entry
 * of a name, the file dpkg reads is not the one an index built from the first entry shows.
 */
export function readControlTar(archive: Uint8Array): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  const seen = new Map<string, string>();
  for (const entry of readTar(archive)) {
    const name = JSON.stringify(entry.name);
    if (entry.kind === 'hardlink' || entry.kind === 'symlink') {
      throw badPackage('control-link', `${name} is a ${entry.kind === 'symlink' ? 'symbolic' : 'hard'} link (dpkg would follow it); control files must be regular files`);
    }
    if (entry.kind === 'other') {
      throw badPackage('control-not-file', `${name} is neither a regular file nor a directory`);
    }
    if (entry.path === '') continue; // the top directory, `./`
    const earlier = seen.get(entry.path);
    if (earlier !== undefined) {
      throw badPackage('duplicate-control-member', `${name} unpacks to the same path as ${earlier}, and dpkg would read the last one`);
    }
    seen.set(entry.path, name);
    if (entry.kind === 'file') files.set(entry.path, entry.data);
    else if (entry.path === 'control') throw badPackage('control-not-file', '"control" is a directory');
  }
  return files;
}
