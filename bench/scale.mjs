// scale: Packyard at N = 100,000 packages (issue 18): add N/10 into an empty repository and into
// the first 90 %, +1 into N through the API (against reprepro), the CLI and the Worker host, and
// the memory of the CLI, the server and workerd.
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { packageFields, writeSmallDeb } from './lib/inputs.mjs';
import { reprepro, throwawayKey } from './lib/peers.mjs';
import { addPeakRss, serve, uploadRaw } from './lib/packyard.mjs';
import { DIST, REPO, countStanzas, createPackyardRepo, packyardCount, repreproBase, scaleBases } from './lib/repos.mjs';
import { copyTree, memory, tempDir } from './lib/proc.mjs';
import { PAID_MS, measure, workerd } from './lib/workerd.mjs';
import { check, fmt, median, rotated, table, writeResults } from './lib/stats.mjs';

export const description = 'N = 100,000 packages: add N/10 into 0 and into 90 %, +1 into N (API vs reprepro, CLI, Worker), memory';
export const defaultN = 100_000;
export const defaultRuns = 5;

/** Issue 18's budgets. */
const ADD_RATIO = 1.5;
const CLI_RSS = 400e6;
const API_MS = 300;
const SERVER_RSS = 256e6;
/** The Worker's memory limit (informative: workerd's whole-process RSS is an upper bound of an isolate's heap). */
const WORKER_RSS = 128e6;
/** GETs of the served Packages.gz. */
const GETS = 5;
/** After a Worker publish's response, time for workerd to finish it before reading its CPU (as worker-cpu). */
const SETTLE_MS = 100;
const PACKAGES_GZ = `dists/${DIST}/main/binary-amd64/Packages.gz`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const stats = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });

export async function run({ n, runs }) {
  const tenth = Math.floor(n / 10);
  const key = await throwawayKey();
  const base = await scaleBases(n);
  const rrBase = await repreproBase(n, key);
  const work = tempDir('scale');
  // Nothing is deleted until exit: on a journal-less ext4, files created soon after many were
  // deleted are slow to create (bench/README.md), which would tax the later runs.

  // 1. `packyard add` of the last N/10 packages (one invocation) into an empty repository and
  //    into a copy of the first N − N/10, alternating which goes first.
  const adds = { empty: [], head: [] };
  for (let r = 0; r < runs; r++) {
    for (const into of rotated(['empty', 'head'], r)) {
      const data = join(work, `add-${into}-${r}`);
      if (into === 'head') copyTree(base.head, data);
      else await createPackyardRepo(data);
      const { ms, peakRss } = await addPeakRss(data, REPO, DIST, base.tail);
      adds[into].push({ ms, peakRss });
      if (r === runs - 1) {
        const count = await packyardCount(data);
        const expected = into === 'head' ? n : tenth;
        if (count !== expected) throw new Error(`after add into ${into}: ${count} packages published, not ${expected}`);
      }
      console.error(`scale add ${tenth} into ${into === 'head' ? n - tenth : 'empty'} run ${r + 1}/${runs}: ${fmt.s(ms)}, CLI peak RSS ${fmt.mb(peakRss)}`);
    }
  }

  // 2. +1 into N: `packyard serve` on a copy of the N base (raw POST), reprepro includedeb into a
  //    copy of the N reprepro repository (alternating order), and `packyard add` of another fresh
  //    package into a third copy. Run 0 is the first after start (cold): reported apart.
  const served = join(work, 'serve');
  const cliData = join(work, 'cli');
  const rr = join(work, 'reprepro');
  copyTree(base.all, served);
  copyTree(base.all, cliData);
  copyTree(rrBase, rr);
  reprepro.create(rr, key, DIST); // sign with this run's key
  const server = await serve(served);
  const rssStarted = memory(server.pid);
  let next = 0;
  const freshDeb = (prefix) => writeSmallDeb(work, packageFields(3_000_000 + next++, prefix));
  const one = { api: [], reprepro: [], cli: [], cliRss: [] };
  const first = {};
  for (let r = 0; r <= runs; r++) {
    const deb = await freshDeb('scale-');
    const times = {};
    for (const who of rotated(['api', 'reprepro'], r)) {
      if (who === 'api') times.api = (await uploadRaw(server, REPO, DIST, deb)).ms;
      else times.reprepro = (await reprepro.includedeb(rr, key, DIST, [deb])).ms;
    }
    const cli = await addPeakRss(cliData, REPO, DIST, [await freshDeb('scale-cli-')]);
    if (r === 0) Object.assign(first, { ...times, cli: cli.ms, cliRss: cli.peakRss });
    else {
      one.api.push(times.api);
      one.reprepro.push(times.reprepro);
      one.cli.push(cli.ms);
      one.cliRss.push(cli.peakRss);
    }
    console.error(`scale +1 run ${r}${r === 0 ? ' (first, not counted)' : `/${runs}`}: api ${fmt.ms(times.api)}, reprepro ${fmt.ms(times.reprepro)}, packyard add ${fmt.ms(cli.ms)} (peak RSS ${fmt.mb(cli.peakRss)})`);
  }
  // The server's memory after those publishes, before anything else is asked of it.
  await sleep(1500); // also past the 1 s head cache, for the GETs
  const serverMemory = { started: rssStarted, after: memory(server.pid) };

  // 3. The served Packages.gz: size, time to GET it; it lists everything published.
  const gets = [];
  let packagesGz;
  for (let i = 0; i < GETS; i++) {
    const started = performance.now();
    const res = await fetch(`${server.url}/${REPO}/${PACKAGES_GZ}`);
    packagesGz = Buffer.from(await res.arrayBuffer());
    gets.push(performance.now() - started);
    if (res.status !== 200) throw new Error(`GET Packages.gz: HTTP ${res.status}`);
  }
  const servedCount = countStanzas(packagesGz);
  const repreproCount = countStanzas(await readFile(join(rr, PACKAGES_GZ)));
  const cliCount = await packyardCount(cliData);
  if (servedCount !== n + runs + 1 || repreproCount !== n + runs + 1 || cliCount !== n + runs + 1) {
    throw new Error(`after +1 × ${runs + 1}: packyard serves ${servedCount} packages, reprepro lists ${repreproCount}, the CLI's copy ${cliCount}; expected ${n + runs + 1}`);
  }
  await server.stop();

  // 4. The same +1 on the Worker host: workerd (on-prem configuration) over a copy of the N base,
  //    as worker-cpu runs it; CPU of the whole workerd process per publish, and its memory after.
  const workerData = join(work, 'worker');
  copyTree(base.all, workerData);
  const worker = await workerd(workerData);
  const workerRuns = [];
  let workerFirst;
  for (let r = 0; r <= runs; r++) {
    const deb = await freshDeb('scale-worker-');
    const { cpu, wall } = await measure(worker, () => uploadRaw(worker, REPO, DIST, deb), SETTLE_MS);
    if (r === 0) workerFirst = { cpu, wall };
    else workerRuns.push({ cpu, wall });
    console.error(`scale worker +1 run ${r}${r === 0 ? ' (first, not counted)' : `/${runs}`}: ${fmt.ms(cpu)} CPU, ${fmt.ms(wall)} wall`);
  }
  const workerMemory = memory(worker.pid);
  await sleep(1500);
  const workerServed = countStanzas(Buffer.from(await (await fetch(`${worker.url}/${REPO}/${PACKAGES_GZ}`)).arrayBuffer()));
  if (workerServed !== n + runs + 1) throw new Error(`after +1 × ${runs + 1}, workerd serves ${workerServed} packages, not ${n + runs + 1}`);
  await worker.stop();

  // Tables.
  const add = {
    empty: { ms: stats(adds.empty.map((x) => x.ms)), rss: stats(adds.empty.map((x) => x.peakRss)) },
    head: { ms: stats(adds.head.map((x) => x.ms)), rss: stats(adds.head.map((x) => x.peakRss)) },
  };
  const addRatio = add.head.ms.median / add.empty.ms.median;
  table(
    `scale: packyard add of ${tenth} packages (one invocation; median of ${runs} runs, fresh copies)`,
    ['into', 'median', 'min', 'max', 'CLI peak RSS (median)', 'max', '÷ into empty'],
    [
      ['an empty repository', add.empty],
      [`the ${n - tenth}-package repository`, add.head],
    ].map(([name, x]) => [name, fmt.s(x.ms.median), fmt.s(x.ms.min), fmt.s(x.ms.max), fmt.mb(x.rss.median), fmt.mb(x.rss.max), fmt.x(x.ms.median / add.empty.ms.median)]),
  );

  const med = { api: median(one.api), reprepro: median(one.reprepro), cli: median(one.cli), cliRss: median(one.cliRss) };
  table(
    `scale: +1 package into the ${n}-package repository (median of ${runs} runs, a fresh package each; first = the first after start)`,
    ['path', 'median', 'min', 'max', 'first', 'packyard API ÷ path'],
    [
      ['packyard API (POST raw .deb)', one.api, first.api],
      ['reprepro includedeb', one.reprepro, first.reprepro],
      [`packyard add (CLI, info; peak RSS ${fmt.mb(med.cliRss)})`, one.cli, first.cli],
    ].map(([name, s, f]) => [name, fmt.ms(median(s)), fmt.ms(Math.min(...s)), fmt.ms(Math.max(...s)), fmt.ms(f), fmt.x(med.api / median(s))]),
  );

  const workerMed = {
    cpu: median(workerRuns.map((x) => x.cpu)),
    wall: median(workerRuns.map((x) => x.wall)),
    worst: Math.max(...workerRuns.map((x) => x.cpu)),
  };
  table(
    `scale: +1 package into ${n} on the Worker host (workerd, on-prem configuration; whole-process CPU, median of ${runs})`,
    ['publish', 'CPU', 'min', 'max', 'wall', 'paid plan (30 s CPU)'],
    [
      ['first after start', fmt.ms(workerFirst.cpu), '', '', fmt.ms(workerFirst.wall), fmt.x(workerFirst.cpu / PAID_MS)],
      ['+1 (median)', fmt.ms(workerMed.cpu), fmt.ms(Math.min(...workerRuns.map((x) => x.cpu))), fmt.ms(workerMed.worst), fmt.ms(workerMed.wall), fmt.x(workerMed.worst / PAID_MS)],
    ],
  );

  table(
    `scale: memory (VmRSS, and peak VmHWM, from /proc/PID/status)`,
    ['process', 'RSS', 'peak (VmHWM)', 'budget'],
    [
      [`packyard serve, after start`, fmt.mb(serverMemory.started.rss), fmt.mb(serverMemory.started.hwm), ''],
      [`packyard serve, after ${runs + 1} publishes into ${n}`, fmt.mb(serverMemory.after.rss), fmt.mb(serverMemory.after.hwm), `≤ ${fmt.mb(SERVER_RSS)}`],
      [`packyard add of ${tenth} into ${n - tenth} (CLI, worst run)`, '', fmt.mb(add.head.rss.max), `≤ ${fmt.mb(CLI_RSS)}`],
      [`packyard add of 1 into ${n} (CLI, median)`, '', fmt.mb(med.cliRss), ''],
      [`workerd, after ${runs + 1} publishes into ${n}`, fmt.mb(workerMemory.rss), fmt.mb(workerMemory.hwm), `≤ ${fmt.mb(WORKER_RSS)} (info)`],
    ],
  );
  console.log(`workerd's RSS is the whole process (runtime, disk service, every isolate): an upper bound of the Worker isolate's heap, which the 128 MB limit is about.`);

  const get = stats(gets);
  table(`scale: the served Packages.gz (${n + runs + 1} packages; GET from packyard serve, median of ${GETS})`, ['size', 'GET median', 'min', 'max'], [
    [fmt.mb(packagesGz.length), fmt.ms(get.median), fmt.ms(get.min), fmt.ms(get.max)],
  ]);

  const cliPeak = Math.max(add.head.rss.max, add.empty.rss.max);
  const checks = [
    check('scale', `add ${tenth} into ${n - tenth} ÷ into empty`, addRatio, ADD_RATIO, 'max', `(${fmt.s(add.head.ms.median)} vs ${fmt.s(add.empty.ms.median)})`),
    check('scale', `packyard add CLI peak RSS (worst run) ÷ ${fmt.mb(CLI_RSS)}`, cliPeak / CLI_RSS, 1, 'max', `(${fmt.mb(cliPeak)})`),
    check('scale', `API +1 into ${n} ÷ ${API_MS} ms`, med.api / API_MS, 1, 'max', `(${fmt.ms(med.api)})`),
    check('scale', `API +1 into ${n} ÷ reprepro includedeb`, med.api / med.reprepro, 1, 'max', `(${fmt.ms(med.api)} vs ${fmt.ms(med.reprepro)})`),
    check('scale', `server RSS after publishing ÷ ${fmt.mb(SERVER_RSS)}`, serverMemory.after.rss / SERVER_RSS, 1, 'max', `(${fmt.mb(serverMemory.after.rss)}; peak ${fmt.mb(serverMemory.after.hwm)})`),
    check('scale', `Worker +1 into ${n}, CPU (worst of ${runs}) ÷ ${PAID_MS / 1000} s (paid plan)`, workerMed.worst / PAID_MS, 1, 'max', `(${fmt.ms(workerMed.worst)}; median ${fmt.ms(workerMed.cpu)})`),
    check('scale', `workerd RSS after publish ÷ ${fmt.mb(WORKER_RSS)} (info: whole process, an upper bound)`, workerMemory.rss / WORKER_RSS, 1, 'max', `(${fmt.mb(workerMemory.rss)}; peak ${fmt.mb(workerMemory.hwm)})`),
  ];
  writeResults('scale', {
    n,
    runs,
    units: { time: 'ms', memory: 'bytes' },
    add: adds,
    plusOne: { samples: one, first },
    worker: { first: workerFirst, runs: workerRuns },
    memory: { server: serverMemory, worker: workerMemory },
    packagesGz: { bytes: packagesGz.length, getMs: gets },
    median: { add, plusOne: med, worker: workerMed },
    checks,
  });
  return checks;
}
