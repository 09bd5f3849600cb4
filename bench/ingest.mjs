// ingest: N generated .debs into an empty repository, indexed, signed and published.
import { join } from 'node:path';
import { readFile, rm } from 'node:fs/promises';
import { smallDebs } from './lib/inputs.mjs';
import { aptly, reprepro, throwawayKey } from './lib/peers.mjs';
import { ADD_BATCH, add } from './lib/packyard.mjs';
import { DIST, REPO, countStanzas, createPackyardRepo, packyardCount, saveBase } from './lib/repos.mjs';
import { run as exec, tempDir } from './lib/proc.mjs';
import { check, fmt, median, rotated, table, writeResults } from './lib/stats.mjs';

export const description = 'ingest and publish N .debs into an empty repository: packyard add vs aptly repo add + publish vs reprepro includedeb';
export const defaultRuns = 3;

export async function run({ n, runs }) {
  const { dir, files } = await smallDebs(n);
  const key = await throwawayKey();
  const tools = {
    async packyard(work) {
      const data = join(work, 'data');
      const create = (await createPackyardRepo(data)).ms;
      const ms = create + (await add(data, REPO, DIST, files));
      return { ms, count: await packyardCount(data), keep: data };
    },
    async aptly(work) {
      const config = aptly.create(work);
      const { createMs, addMs, publishMs } = await aptly.addAndPublish(config, key, DIST, dir);
      const count = countStanzas(await readFile(join(work, `root/public/dists/${DIST}/main/binary-amd64/Packages.gz`)));
      return { ms: createMs + addMs + publishMs, count, detail: { createMs, addMs, publishMs } };
    },
    async reprepro(work) {
      reprepro.create(work, key, DIST);
      const { ms } = await reprepro.includedeb(work, key, DIST, files);
      return { ms, count: countStanzas(await readFile(join(work, `dists/${DIST}/main/binary-amd64/Packages.gz`))), keep: work };
    },
  };
  const names = Object.keys(tools);
  const samples = Object.fromEntries(names.map((t) => [t, []]));
  const kept = {};
  for (let r = 0; r < runs; r++) {
    for (const tool of rotated(names, r)) {
      const work = tempDir(`ingest-${tool}`);
      // Each tool starts with the disk quiet: the previous tool's writes and deletions (tens of
      // thousands of files) are otherwise still being written back while it runs.
      await exec('sync', []);
      const result = await tools[tool](work);
      if (result.count !== n) throw new Error(`${tool} published ${result.count} packages, expected ${n}`);
      samples[tool].push(result.ms);
      console.error(`ingest run ${r + 1}/${runs}: ${tool} ${fmt.s(result.ms)}${result.detail ? ` ${JSON.stringify(result.detail)}` : ''}`);
      if (r === runs - 1 && result.keep) kept[tool] = result.keep;
      else await rm(work, { recursive: true, force: true });
    }
  }
  await saveBase(n, kept.packyard, kept.reprepro);

  const med = Object.fromEntries(names.map((t) => [t, median(samples[t])]));
  table(
    `ingest: ${n} packages into an empty repository (median of ${runs} runs)`,
    ['tool', 'median', 'min', 'max', 'per package', 'packyard ÷ tool'],
    names.map((t) => [t, fmt.s(med[t]), fmt.s(Math.min(...samples[t])), fmt.s(Math.max(...samples[t])), fmt.ms(med[t] / n), fmt.x(med.packyard / med[t])]),
  );
  console.log(`packyard: \`packyard repo create\` + \`packyard add\` of all ${n} files ${n <= ADD_BATCH ? 'in one invocation' : `in invocations of ≤${ADD_BATCH}`}`);
  console.log('aptly: repo create + repo add <dir> (hard-links the inputs into its pool) + publish repo, signed with gpg (ed25519)');
  console.log('reprepro: includedeb of all files in one invocation (copies into its pool), SignWith the same gpg key');
  const checks = ['aptly', 'reprepro'].map((peer) => check('ingest', `packyard ÷ ${peer} time`, med.packyard / med[peer], 0.5, 'max', `(${fmt.s(med.packyard)} vs ${fmt.s(med[peer])})`));
  writeResults('ingest', { n, runs, unit: 'ms', samples, median: med, checks });
  return checks;
}

