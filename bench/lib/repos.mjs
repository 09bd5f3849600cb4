// The N-package repositories that add-one and serve start from. `ingest` leaves its last
// Packyard and reprepro repositories here; run alone, add-one and serve build them (untimed).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { CACHE, PACKYARD, ROOT, copyTree, run } from './proc.mjs';
import { reprepro } from './peers.mjs';
import { add } from './packyard.mjs';
import { smallDebs } from './inputs.mjs';

export const REPO = 'bench';
export const DIST = 'stable';

/** Files per `packyard add` or `reprepro includedeb` when building a base of more than ARG_MAX allows (90,000 paths are past 2 MiB). */
const BUILD_BATCH = 10_000;

/** The Packyard build (a hash of dist/cli.mjs): kept data is keyed by it, as the stored format may change. */
function buildId() {
  return createHash('sha256').update(readFileSync(join(ROOT, 'dist/cli.mjs'))).digest('hex').slice(0, 10);
}

/** Keyed by N and the Packyard build, so a rebuilt Packyard never reuses another build's data. */
function baseDir(n) {
  return join(CACHE, `base-${n}-${buildId()}`);
}

/** Creates a Packyard data directory's repository (amd64 only and public, like the peers' repositories). */
export function createPackyardRepo(data) {
  return run(process.execPath, [PACKYARD, 'repo', 'create', REPO, '--data', data, '--architectures', 'amd64', '--distribution', DIST, '--public']);
}

/** Removes base repositories of other Packyard builds (they are never used again): CACHE/`prefix`* but `keep`. */
async function dropStale(prefix, keep) {
  for (const name of await readdir(CACHE)) if (name.startsWith(prefix) && join(CACHE, name) !== keep) await rm(join(CACHE, name), { recursive: true, force: true });
}

/** Keeps a just-built pair of repositories as the base for later benchmarks. */
export async function saveBase(n, packyardData, repreproDir) {
  const dir = baseDir(n);
  await dropStale(`base-${n}-`, dir);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await rename(packyardData, join(dir, 'packyard'));
  await rename(repreproDir, join(dir, 'reprepro'));
  await writeFile(join(dir, '.complete'), '');
}

/** Paths of the base repositories of N packages, building them if needed. */
export async function baseRepos(n, key) {
  const dir = baseDir(n);
  if (!existsSync(join(dir, '.complete'))) {
    console.error(`building the ${n}-package base repositories in ${dir} (untimed)...`);
    const { files } = await smallDebs(n);
    await dropStale(`base-${n}-`, dir);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await createPackyardRepo(join(dir, 'packyard'));
    await add(join(dir, 'packyard'), REPO, DIST, files);
    reprepro.create(join(dir, 'reprepro'), key, DIST);
    await reprepro.includedeb(join(dir, 'reprepro'), key, DIST, files);
    await writeFile(join(dir, '.complete'), '');
  }
  return { packyard: join(dir, 'packyard'), reprepro: join(dir, 'reprepro') };
}

/**
 * The N-package Packyard data directory alone (for benchmarks with no reprepro): the base
 * repositories' when they exist, else built into the same place (untimed), without reprepro's.
 */
export async function packyardBase(n) {
  const dir = baseDir(n);
  const data = join(dir, 'packyard');
  if (existsSync(join(dir, '.complete')) || existsSync(join(dir, '.packyard-complete'))) return data;
  console.error(`building the ${n}-package Packyard repository in ${data} (untimed)...`);
  const { files } = await smallDebs(n);
  await dropStale(`base-${n}-`, dir);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await createPackyardRepo(data);
  await add(data, REPO, DIST, files);
  await writeFile(join(dir, '.packyard-complete'), '');
  return data;
}

/**
 * `scale`'s Packyard data directories, kept in CACHE/scale-<N>-<build>/ (untimed to build): `head`,
 * the first N − N/10 of the N generated packages (added in batches), and `all`, a copy of it with
 * the last N/10 added in one `packyard add`. `tail` are the last N/10 files.
 */
export async function scaleBases(n) {
  const dir = join(CACHE, `scale-${n}-${buildId()}`);
  const { files } = await smallDebs(n);
  const split = n - Math.floor(n / 10);
  const paths = { head: join(dir, 'head'), all: join(dir, 'all'), tail: files.slice(split) };
  if (existsSync(join(dir, '.complete'))) return paths;
  console.error(`building the ${split}- and ${n}-package Packyard repositories in ${dir} (untimed)...`);
  const started = performance.now();
  await dropStale(`scale-${n}-`, dir);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await createPackyardRepo(paths.head);
  await add(paths.head, REPO, DIST, files.slice(0, split), { batch: BUILD_BATCH });
  copyTree(paths.head, paths.all);
  await add(paths.all, REPO, DIST, paths.tail);
  await writeFile(join(dir, '.complete'), '');
  console.error(`built them in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return paths;
}

/**
 * A reprepro repository of all N generated packages (signed with `key` when built; sign with
 * another by rewriting conf/distributions, `reprepro.create`), kept in CACHE/reprepro-<N>/:
 * reprepro does not depend on the Packyard build. Built untimed, `includedeb` in batches.
 */
export async function repreproBase(n, key) {
  const dir = join(CACHE, `reprepro-${n}`);
  if (existsSync(join(dir, '.complete'))) return dir;
  console.error(`building the ${n}-package reprepro repository in ${dir} (untimed)...`);
  const started = performance.now();
  const { files } = await smallDebs(n);
  await rm(dir, { recursive: true, force: true });
  reprepro.create(dir, key, DIST);
  for (let i = 0; i < files.length; i += BUILD_BATCH) await reprepro.includedeb(dir, key, DIST, files.slice(i, i + BUILD_BATCH));
  await writeFile(join(dir, '.complete'), '');
  console.error(`built it in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return dir;
}

/** The text of a Packages or Packages.gz file's bytes. */
export function packagesText(bytes) {
  return (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('utf8');
}

/** Number of stanzas in a Packages or Packages.gz file's bytes. */
export function countStanzas(bytes) {
  return (packagesText(bytes).match(/^Package: /gm) ?? []).length;
}

/** Stanzas in the amd64 Packages a Packyard data directory currently publishes (read from storage). */
export async function packyardCount(data) {
  const head = JSON.parse(await readFile(join(data, 'repos', REPO, 'head.json'), 'utf8'));
  const snapshot = JSON.parse(await readFile(join(data, 'repos', REPO, 'snapshots', `${head.snapshot}.json`), 'utf8'));
  const entry = snapshot.files[`dists/${DIST}/main/binary-amd64/Packages.gz`];
  return countStanzas(await readFile(join(data, ...entry.key.split('/'))));
}
