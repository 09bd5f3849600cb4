// add-one: add one fresh package to the N-package repository and wait until it is published.
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { packageFields, writeSmallDeb } from './lib/inputs.mjs';
import { reprepro, throwawayKey } from './lib/peers.mjs';
import { add, serve, uploadRaw } from './lib/packyard.mjs';
import { DIST, REPO, baseRepos, countStanzas } from './lib/repos.mjs';
import { copyTree, tempDir } from './lib/proc.mjs';
import { check, fmt, median, table, writeResults } from './lib/stats.mjs';

export const description = 'add one package to an N-package repository: packyard serve API (request → published) vs reprepro includedeb';
export const defaultRuns = 7;

export async function run({ n, runs }) {
  const key = await throwawayKey();
  const base = await baseRepos(n, key);
  const work = tempDir('add-one');
  const data = join(work, 'packyard');
  const rr = join(work, 'reprepro');
  copyTree(base.packyard, data);
  copyTree(base.reprepro, rr);
  reprepro.create(rr, key, DIST); // sign with this run's key
  const server = await serve(data);

  let next = 0;
  const freshDeb = () => writeSmallDeb(work, packageFields(1_000_000 + next++, 'addone-'));
  const samples = { api: [], reprepro: [], cli: [] };
  const first = {};
  // Run 0 is the first request after start (cold caches): reported, not in the median.
  for (let r = 0; r <= runs; r++) {
    const deb = await freshDeb();
    const api = (await uploadRaw(server, REPO, DIST, deb)).ms;
    const { ms: rep } = await reprepro.includedeb(rr, key, DIST, [deb]);
    // For information: the same through the CLI (a new process) into the same data directory.
    const cli = await add(data, REPO, DIST, [await freshDeb()]);
    if (r === 0) Object.assign(first, { api, reprepro: rep, cli });
    else [samples.api, samples.reprepro, samples.cli].forEach((s, i) => s.push([api, rep, cli][i]));
    console.error(`add-one run ${r}${r === 0 ? ' (first, not counted)' : ''}: api ${fmt.ms(api)}, reprepro ${fmt.ms(rep)}, packyard add ${fmt.ms(cli)}`);
  }

  // Everything added must be in what clients download (after the server's 1 s head cache, as
  // the CLI's publishes come from another process).
  await new Promise((r) => setTimeout(r, 1500));
  const packages = await (await fetch(`${server.url}/${REPO}/dists/${DIST}/main/binary-amd64/Packages.gz`)).arrayBuffer();
  const served = countStanzas(Buffer.from(packages));
  const inReprepro = countStanzas(await readFile(join(rr, `dists/${DIST}/main/binary-amd64/Packages.gz`)));
  if (served !== n + 2 * (runs + 1) || inReprepro !== n + runs + 1) throw new Error(`after add-one: packyard serves ${served} packages, reprepro ${inReprepro}`);
  await server.stop();

  const med = { api: median(samples.api), reprepro: median(samples.reprepro), cli: median(samples.cli) };
  table(
    `add-one: 1 package into a ${n}-package repository (median of ${runs} runs, a fresh package each)`,
    ['path', 'median', 'min', 'max', 'first', 'packyard API ÷ path'],
    [
      ['packyard API (POST raw .deb)', med.api, samples.api, first.api],
      ['reprepro includedeb', med.reprepro, samples.reprepro, first.reprepro],
      ['packyard add (CLI, info)', med.cli, samples.cli, first.cli],
    ].map(([name, m, s, f]) => [name, fmt.ms(m), fmt.ms(Math.min(...s)), fmt.ms(Math.max(...s)), fmt.ms(f), fmt.x(med.api / m)]),
  );
  const checks = [check('add-one', 'packyard API ÷ reprepro time', med.api / med.reprepro, 1.0, 'max', `(${fmt.ms(med.api)} vs ${fmt.ms(med.reprepro)})`)];
  writeResults('add-one', { n, runs, unit: 'ms', samples, first, median: med, checks });
  return checks;
}
