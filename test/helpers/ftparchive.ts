// A reference APT repository made by Debian's own tool (apt-ftparchive, from apt-utils)
// and signed with gpg. It proves the chroot/apt helpers work without Packyard, and gives
// later tests a known-good repository to compare Packyard's output against.
import { copyFile, mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runOk } from './exec.js';
import type { TestKey } from './gpg.js';

export interface FtpArchiveOptions {
  /** Repository root: pool/ and dists/ are made under it. */
  dir: string;
  debs: readonly string[];
  key: TestKey;
  dist?: string;
  component?: string;
  arch?: string;
}

/**
 * Copies the .debs into pool/<component>/ and writes dists/<dist>/{Release,InRelease,Release.gpg}
 * and <component>/binary-<arch>/Packages{,.gz}. apt then takes:
 *   deb [signed-by=KEY] http://HOST/ <dist> <component>
 */
export async function buildFtpArchiveRepo(o: FtpArchiveOptions): Promise<void> {
  const dist = o.dist ?? 'stable';
  const comp = o.component ?? 'main';
  const arch = o.arch ?? 'amd64';
  const pool = path.join(o.dir, 'pool', comp);
  const binDir = path.join(o.dir, 'dists', dist, comp, `binary-${arch}`);
  await mkdir(pool, { recursive: true });
  await mkdir(binDir, { recursive: true });
  for (const deb of o.debs) await copyFile(deb, path.join(pool, path.basename(deb)));

  // Paths in Packages (Filename:) are relative to the repository root, so run from there.
  const packages = await runOk('apt-ftparchive', ['packages', `pool/${comp}`], { cwd: o.dir });
  await writeFile(path.join(binDir, 'Packages'), packages.stdout);
  await runOk('gzip', ['-9nk', path.join(binDir, 'Packages')]);

  // Release must list the uncompressed Packages too, or apt skips the index (DESIGN.md).
  const distDir = path.join(o.dir, 'dists', dist);
  const release = await runOk(
    'apt-ftparchive',
    [
      '-o', `APT::FTPArchive::Release::Suite=${dist}`,
      '-o', `APT::FTPArchive::Release::Codename=${dist}`,
      '-o', `APT::FTPArchive::Release::Components=${comp}`,
      '-o', `APT::FTPArchive::Release::Architectures=${arch}`,
      '-o', 'APT::FTPArchive::Release::Origin=packyard-tests',
      'release', '.',
    ],
    { cwd: distDir },
  );
  // Written after the scan, so Release does not list itself.
  const tmp = path.join(o.dir, '.Release.tmp');
  await writeFile(tmp, release.stdout);
  await rename(tmp, path.join(distDir, 'Release'));
  await o.key.clearsign(path.join(distDir, 'Release'), path.join(distDir, 'InRelease'));
  await o.key.detachSign(path.join(distDir, 'Release'), path.join(distDir, 'Release.gpg'));
}

/** Lists the files in a repository tree (relative paths), for debugging failed tests. */
export async function listTree(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = path.join(rel, e.name);
    if (e.isDirectory()) out.push(...(await listTree(dir, r)));
    else out.push(r);
  }
  return out;
}
