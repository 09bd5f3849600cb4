// rpm: N real RPMs (rpmbuild) published as an rpm-md repository, Packyard against createrepo_c;
// then one more RPM added to that repository, Packyard's API against createrepo_c --update.
import { basename, join } from 'node:path';
import { copyFile, readFile, rm, unlink } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { extraRpms, generatedRpms } from './lib/rpm-inputs.mjs';
import { add, serve, uploadRaw } from './lib/packyard.mjs';
import { run as exec, tempDir } from './lib/proc.mjs';
import { throwawayKey } from './lib/peers.mjs';
import { check, fmt, median, rotated, table, writeResults } from './lib/stats.mjs';

export const description = 'RPM repositories: publish N RPMs (packyard add --create vs cp + createrepo_c + gpg), then add one more (packyard API vs createrepo_c --update)';
/** N when --n is not given: the issue's budget is stated for 5,000 RPMs. */
export const defaultN = 5000;
/** None: without --runs, publishing runs 3 times and add-one 7 (--runs R sets both). */
export const defaultRuns = undefined;

const REPO = 'yum';
const DIST = 'el9';
const ARCH = 'x86_64';
const PUBLISH_RUNS = 3;
/** The publish budget's peer (issue's restatement): cp into a served directory + createrepo_c --no-database + gpg --detach-sign --armor repomd.xml. */
const SERVED_PEER = 'cp + createrepo_c --no-database + gpg sign';
const ADD_RUNS = 7;

/** Number of packages in an rpm-md repository, read through `get(path)` (path from the repository root). */
async function countRepodata(get) {
  const repomd = (await get('repodata/repomd.xml')).toString('utf8');
  const href = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(repomd)?.[1];
  if (!href) throw new Error(`no primary in repomd.xml:\n${repomd.slice(0, 500)}`);
  const primary = gunzipSync(await get(href)).toString('utf8');
  const declared = Number(/<metadata [^>]*packages="(\d+)"/.exec(primary)?.[1]);
  const listed = (primary.match(/<package type="rpm">/g) ?? []).length;
  if (declared !== listed) throw new Error(`primary.xml says packages="${declared}" but lists ${listed}`);
  return listed;
}

/** Packages a createrepo_c directory lists. */
const createrepoCount = (dir) => countRepodata((path) => readFile(join(dir, path)));

/** Packages a running `packyard serve` serves for el9/x86_64, as dnf fetches them. */
function servedCount(server) {
  return countRepodata(async (path) => {
    const response = await fetch(`${server.url}/${REPO}/${DIST}/${ARCH}/${path}`);
    if (response.status !== 200) throw new Error(`GET ${path}: HTTP ${response.status}`);
    return Buffer.from(await response.arrayBuffer());
  });
}

/** Packages a Packyard data directory publishes (a short-lived server on it). */
async function packyardCount(data) {
  const server = await serve(data);
  try {
    return await servedCount(server);
  } finally {
    await server.stop();
  }
}

/** createrepo_c indexes a directory in place: each run gets its own hard-linked copy of the inputs (untimed). */
async function linkedInputs(from, to) {
  await exec('cp', ['-al', from, to]);
  await unlink(join(to, '.complete'));
}

async function publish(n, runs, rpms, key) {
  // One process: `packyard add --create` makes the repository (public, so that the count can
  // read it without a token) and adds all N files.
  const packyard = (archs) => async (work) => {
    const data = join(work, 'data');
    const ms = await add(data, REPO, DIST, rpms.files, { create: ['--public', ...(archs ? ['--architectures', archs] : [])] });
    return { ms, count: () => packyardCount(data), keep: data };
  };
  const createrepo = (args) => async (work) => {
    const dir = join(work, 'repo');
    await linkedInputs(rpms.dir, dir);
    await exec('sync', []);
    const { ms } = await exec('createrepo_c', [...args, dir]);
    return { ms, count: () => createrepoCount(dir), keep: dir };
  };
  // The budget's peer as the issue restates it: what Packyard does, done with the usual tools.
  // The files are copied (not linked) into a directory a web server would serve, indexed, and
  // repomd.xml signed, all timed; gpg's key is a throwaway Ed25519 one (its agent started before).
  const servedDir = async (work) => {
    const dir = join(work, 'served');
    const started = performance.now();
    await exec('mkdir', ['-p', dir]);
    await exec('sh', ['-c', 'cp -- "$@" "$0"', dir, ...rpms.files]);
    const cpMs = performance.now() - started;
    const createrepoMs = (await exec('createrepo_c', ['--no-database', dir])).ms;
    const signMs = (await exec('gpg', ['--batch', '--yes', '--local-user', key.fpr, '--detach-sign', '--armor', join(dir, 'repodata/repomd.xml')], { env: key.env })).ms;
    return { ms: performance.now() - started, detail: { cpMs: Math.round(cpMs), createrepoMs: Math.round(createrepoMs), signMs: Math.round(signMs) }, count: () => createrepoCount(dir), keep: dir };
  };
  const tools = {
    packyard: packyard(ARCH),
    [SERVED_PEER]: servedDir,
    'createrepo_c --no-database': createrepo(['--no-database']),
    'createrepo_c (sqlite too, info)': createrepo([]),
    'packyard, x86_64+aarch64 (info)': packyard(undefined),
  };
  const names = Object.keys(tools);
  const samples = Object.fromEntries(names.map((t) => [t, []]));
  const details = Object.fromEntries(names.map((t) => [t, []]));
  const kept = {};
  for (let r = 0; r < runs; r++) {
    for (const tool of rotated(names, r)) {
      const work = tempDir('rpm-publish');
      // The disk quiet before each run (createrepo_c's runs sync again after linking their inputs).
      await exec('sync', []);
      const result = await tools[tool](work);
      const count = await result.count();
      if (count !== n) throw new Error(`${tool} published ${count} packages, expected ${n}`);
      samples[tool].push(result.ms);
      details[tool].push(result.detail);
      console.error(`rpm publish run ${r + 1}/${runs}: ${tool} ${fmt.s(result.ms)}${result.detail ? ` ${JSON.stringify(result.detail)}` : ''}`);
      if (r === runs - 1 && (tool === 'packyard' || tool.startsWith('createrepo_c'))) kept[tool] = result.keep;
      else await rm(work, { recursive: true, force: true });
    }
  }
  const med = Object.fromEntries(names.map((t) => [t, median(samples[t])]));
  const peer = SERVED_PEER;
  table(
    `rpm publish: ${n} RPMs into an empty repository (median of ${runs} runs)`,
    ['tool', 'median', 'min', 'max', 'per package', `packyard ÷ tool`],
    names.map((t) => [t, fmt.s(med[t]), fmt.s(Math.min(...samples[t])), fmt.s(Math.max(...samples[t])), fmt.ms(med[t] / n), fmt.x(med.packyard / med[t])]),
  );
  console.log(`packyard: one \`packyard add --create --public --architectures ${ARCH} --repo ${REPO} --distribution ${DIST}\` of all ${n} files into a new data directory (one process); copies them into its store, signs repomd.xml`);
  console.log('createrepo_c: indexes the directory in place (no copy, no signature), --workers at its default (5)');
  const parts = (k) => median(details[SERVED_PEER].map((d) => d[k]));
  console.log(`${SERVED_PEER}: cp of the ${n} files into a new directory ${fmt.ms(parts('cpMs'))} + createrepo_c --no-database ${fmt.ms(parts('createrepoMs'))} + gpg --detach-sign --armor repodata/repomd.xml ${fmt.ms(parts('signMs'))} (medians)`);
  console.log(`packyard ÷ ${SERVED_PEER}: ${fmt.x(med.packyard / med[peer])}; packyard ÷ createrepo_c --no-database alone: ${fmt.x(med.packyard / med['createrepo_c --no-database'])}`);
  const checks = [
    check('rpm publish', `packyard ÷ ${peer} time`, med.packyard / med[peer], 1.0, 'max', `(${fmt.s(med.packyard)} vs ${fmt.s(med[peer])}; ÷ createrepo_c --no-database alone ${fmt.x(med.packyard / med['createrepo_c --no-database'])}; ÷ createrepo_c with sqlite ${fmt.x(med.packyard / med['createrepo_c (sqlite too, info)'])})`),
  ];
  return { samples, details, median: med, checks, kept };
}

async function addOne(n, runs, kept) {
  const data = kept.packyard;
  const plain = kept['createrepo_c --no-database'];
  const withDb = kept['createrepo_c (sqlite too, info)'];
  // Run 0 is the first request after start (cold caches): reported, not in the median. Each
  // run adds one fresh RPM through the API (the same file to both createrepo_c directories) and
  // another through the CLI.
  const extra = (await extraRpms(2 * (runs + 1))).files;
  const server = await serve(data);
  // The file copied in untimed, then `createrepo_c --update ARGS DIR` timed.
  const update = (dir, args) => async (rpm) => {
    await copyFile(rpm, join(dir, basename(rpm)));
    await exec('sync', []);
    return (await exec('createrepo_c', ['--update', ...args, dir])).ms;
  };
  const paths = {
    api: async (rpm) => (await uploadRaw(server, REPO, DIST, rpm, { component: null, contentType: 'application/x-rpm' })).ms,
    'createrepo_c --update --no-database': update(plain, ['--no-database']),
    'createrepo_c --update (sqlite too)': update(withDb, []),
    cli: async (_, cliRpm) => add(data, REPO, DIST, [cliRpm]),
  };
  const names = Object.keys(paths);
  const samples = Object.fromEntries(names.map((p) => [p, []]));
  const first = {};
  for (let r = 0; r <= runs; r++) {
    const rpm = extra[2 * r];
    const cliRpm = extra[2 * r + 1];
    const ms = {};
    for (const p of rotated(names, r)) {
      await exec('sync', []);
      ms[p] = await paths[p](rpm, cliRpm);
    }
    for (const p of names) {
      if (r === 0) first[p] = ms[p];
      else samples[p].push(ms[p]);
    }
    console.error(`rpm add-one run ${r}${r === 0 ? ' (first, not counted)' : ''}: ${names.map((p) => `${p} ${fmt.ms(ms[p])}`).join(', ')}`);
  }
  // Everything added must be in what dnf downloads (after the server's 1 s head cache, as the
  // CLI's publishes come from another process).
  await new Promise((r) => setTimeout(r, 1500));
  const counts = { served: await servedCount(server), plain: await createrepoCount(plain), withDb: await createrepoCount(withDb) };
  await server.stop();
  if (counts.served !== n + 2 * (runs + 1) || counts.plain !== n + runs + 1 || counts.withDb !== n + runs + 1) throw new Error(`after add-one: ${JSON.stringify(counts)}`);

  const med = Object.fromEntries(names.map((p) => [p, median(samples[p])]));
  const label = {
    api: 'packyard API (POST raw .rpm)',
    'createrepo_c --update --no-database': 'createrepo_c --update --no-database',
    'createrepo_c --update (sqlite too)': 'createrepo_c --update (sqlite too, info)',
    cli: 'packyard add (CLI, info)',
  };
  table(
    `rpm add-one: 1 RPM into a ${n}-package repository (median of ${runs} runs, a fresh package each)`,
    ['path', 'median', 'min', 'max', 'first', 'packyard API ÷ path'],
    names.map((p) => [label[p], fmt.ms(med[p]), fmt.ms(Math.min(...samples[p])), fmt.ms(Math.max(...samples[p])), fmt.ms(first[p]), fmt.x(med.api / med[p])]),
  );
  const peer = 'createrepo_c --update --no-database';
  const checks = [check('rpm add-one', `packyard API ÷ ${peer} time`, med.api / med[peer], 0.25, 'max', `(${fmt.ms(med.api)} vs ${fmt.ms(med[peer])})`)];
  return { samples, first, median: med, checks };
}

export async function run({ n, runs }) {
  for (const tool of ['rpmbuild', 'createrepo_c']) await exec('sh', ['-c', `command -v ${tool}`]).catch(() => {
    throw new Error(`${tool} is not installed (Debian: apt-get install rpm createrepo-c)`);
  });
  const rpms = await generatedRpms(n);
  const key = await throwawayKey();
  const published = await publish(n, runs ?? PUBLISH_RUNS, rpms, key);
  const added = await addOne(n, runs ?? ADD_RUNS, published.kept);
  const checks = [...published.checks, ...added.checks];
  writeResults('rpm', {
    n,
    unit: 'ms',
    publish: { runs: runs ?? PUBLISH_RUNS, samples: published.samples, details: published.details, median: published.median },
    addOne: { runs: runs ?? ADD_RUNS, samples: added.samples, first: added.first, median: added.median },
    checks,
  });
  return checks;
}
