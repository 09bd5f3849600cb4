// rollback: roll a distribution of N packages back to an earlier snapshot through the API.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { packageFields, writeSmallDeb } from './lib/inputs.mjs';
import { serve, uploadRaw } from './lib/packyard.mjs';
import { DIST, REPO, countStanzas, packyardBase } from './lib/repos.mjs';
import { CACHE, copyTree, tempDir } from './lib/proc.mjs';
import { check, fmt, median, table, writeResults } from './lib/stats.mjs';

export const description = 'roll a distribution of N packages back to the snapshot before the last publish (packyard serve API)';
export const defaultRuns = 5;

/**
 * The N-package Packyard data directory: one a benchmark of any build left (the data is read the
 * same), else this build's, made untimed. Other builds' are never deleted here.
 */
async function base(n) {
  for (const name of (await readdir(CACHE).catch(() => [])).sort()) {
    const dir = join(CACHE, name);
    if (name.startsWith(`base-${n}-`) && (existsSync(join(dir, '.complete')) || existsSync(join(dir, '.packyard-complete')))) return join(dir, 'packyard');
  }
  return packyardBase(n);
}

export async function run({ n, runs }) {
  const work = tempDir('rollback');
  const data = join(work, 'packyard');
  copyTree(await base(n), data);
  const server = await serve(data);
  const api = async (path, init = {}) => {
    const res = await fetch(`${server.url}/api/v1/repos/${REPO}${path}`, { ...init, headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json', ...init.headers } });
    const json = await res.json();
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const head = async () => (await api('')).repo.snapshot.id;
  const rollback = async (snapshot) => {
    const started = performance.now();
    const { snapshot: made } = await api('/rollback', { method: 'POST', body: JSON.stringify({ snapshot, distribution: DIST }) });
    return { ms: performance.now() - started, made };
  };
  const served = async () => countStanzas(Buffer.from(await (await fetch(`${server.url}/${REPO}/dists/${DIST}/main/binary-amd64/Packages.gz`)).arrayBuffer()));

  let next = 0;
  const fresh = () => writeSmallDeb(work, packageFields(2_000_000 + next++, 'rollback-'));
  const original = await head();
  const samples = [];
  let expected = await served();
  for (let r = 0; r < runs; r++) {
    // A good release, then a bad one to roll back.
    await uploadRaw(server, REPO, DIST, await fresh());
    expected++;
    const good = await head();
    await uploadRaw(server, REPO, DIST, await fresh());
    // A rollback follows a publish by more than the gc protocol's settle time (2 s): objects
    // stored just before would make it wait that long, whatever the repository's size.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const { ms, made } = await rollback(good);
    samples.push(ms);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // the server's head cache
    const listed = await served();
    if (listed !== expected) throw new Error(`after rolling back to ${good}: ${listed} packages served, ${expected} expected`);
    console.error(`rollback run ${r}: ${fmt.ms(ms)} (snapshot ${made.id})`);
  }
  // For information: back to the snapshot the data directory came with, whose objects are older
  // than the gc protocol lets a publish rely on untouched (minGraceMs / 2): each is touched, and
  // the protocol then waits its settle time before the head swap.
  const { ms: toOld } = await rollback(original);
  await server.stop();

  const med = median(samples);
  table(
    `rollback: ${DIST} with ${n} packages, to the snapshot before the last publish (median of ${runs} runs)`,
    ['case', 'median', 'min', 'max'],
    [
      ['to the snapshot before the last publish', fmt.ms(med), fmt.ms(Math.min(...samples)), fmt.ms(Math.max(...samples))],
      ['to the original snapshot (objects touched, info)', fmt.ms(toOld), '', ''],
    ],
  );
  const checks = [check('rollback', 'rollback time ÷ 1 s', med / 1000, 1.0, 'max', `(${fmt.ms(med)})`)];
  writeResults('rollback', { n, runs, unit: 'ms', samples, toOriginal: toOld, median: med, checks });
  return checks;
}
