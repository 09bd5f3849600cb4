// worker-cpu: CPU time the Worker (dist/worker.mjs under workerd, the on-prem configuration)
// spends per request on an N-package repository, against Cloudflare's per-request CPU limits.
import { join } from 'node:path';
import { rm, stat } from 'node:fs/promises';
import { writeBigDeb } from './lib/deb.mjs';
import { debFileName, packageFields, writeSmallDeb } from './lib/inputs.mjs';
import { throwawayKey } from './lib/peers.mjs';
import { serve, uploadRaw } from './lib/packyard.mjs';
import { addReleases, createSyncedRepo, smallAssets, startStandin, syncRepo } from './lib/github.mjs';
import { createTerraformRepo, publishModule, readToken, smallModule } from './lib/terraform.mjs';
import { DIST, REPO, baseRepos, countStanzas, packagesText } from './lib/repos.mjs';
import { ROOT, copyTree, run as runCommand, tempDir } from './lib/proc.mjs';
import { FREE_MS, PAID_MS, cpuTotal, measure, workerd } from './lib/workerd.mjs';
import { check, fmt, median, table, writeResults } from './lib/stats.mjs';

export const description = 'CPU time per request of the Worker (workerd, on-prem build) on an N-package repository, against Cloudflare limits';
export const defaultRuns = 7;

/** Issue 14's budget for a pool file of a GitHub-synced repository answered with a redirect. */
const REDIRECT_MS = 1;
/** The GitHub-synced repository next to the N-package one: its name, and the stand-in's repository and assets. */
const GH_REPO = 'gh';
const GH_FULL_NAME = 'bench/tools';
const GH_ASSETS = 200;
/** Issue 15's budget for a Terraform module's `versions` and `download` answers. */
const TF_MS = 2;
/** The Terraform repository (private, read with a read token as Terraform sends one) and its one module. */
const TF_REPO = 'tf';
const TF_MODULE = { name: 'network', system: 'aws' };
const TF_VERSIONS = 1000;
/** Cheap requests: this many sequential requests per batch, BATCHES batches (after one warm-up batch). */
const BATCH = 200;
const BATCHES = 5;
/** Fresh workerd processes for each kind of cold measurement (the last one serves the rest). */
const COLD_STARTS = 3;
const BIG_MIB = 64;
const BIG_RUNS = 5;
/** After a publish's response, time for the process to finish (its log line, closing files) before reading its CPU. */
const SETTLE_MS = 100;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** GET `path` with `headers`; the whole body is read. Throws unless the status is `status`. */
async function get(server, path, headers = {}, status = 200) {
  const res = await fetch(`${server.url}${path}`, { headers, redirect: 'manual' });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== status) throw new Error(`GET ${path}: HTTP ${res.status}, expected ${status}: ${body.toString('utf8', 0, 300)}`);
  return { res, body };
}

/**
 * The i-th of the module's versions: 1.0.0 … 10.19.4 in patch, minor and major steps, every
 * tenth a pre-release (listed, as Terraform wants them, and chosen only when named).
 */
const tfVersion = (i) => `${1 + Math.floor(i / 100)}.${Math.floor(i / 5) % 20}.${i % 5}${i % 10 === 9 ? '-rc.1' : ''}`;

const fits = (ms) => (ms <= FREE_MS ? 'Free' : ms <= PAID_MS ? 'paid' : 'neither');

export async function run({ n, runs }) {
  await runCommand(process.execPath, ['scripts/build.mjs'], { cwd: ROOT }); // dist/worker.mjs (and dist/cli.mjs for the base)
  const key = await throwawayKey();
  const base = await baseRepos(n, key);
  const work = tempDir('worker-cpu');
  const data = join(work, 'packyard');
  copyTree(base.packyard, data); // workerd writes into it

  // A public repository synced from GitHub Releases (the tests' stand-in), redirect delivery: a
  // pool GET answers 302 to the asset's download URL. Synced by `packyard serve` into the same
  // data directory before workerd starts; the stand-in stays up to show workerd never calls it.
  const { gh } = await startStandin();
  gh.addRepo(GH_FULL_NAME);
  addReleases(gh, GH_FULL_NAME, smallAssets(GH_ASSETS), 5);
  // The Terraform repository's module gets its TF_VERSIONS versions from the same short-lived
  // server (one publish each, about 12 s in all here), and a read token for its GETs.
  const syncing = await serve(data);
  let tfToken;
  try {
    await createSyncedRepo(syncing, GH_REPO, gh, GH_FULL_NAME);
    const { report } = await syncRepo(syncing, GH_REPO);
    if (report.added.length !== GH_ASSETS) throw new Error(`the GitHub sync added ${report.added.length} packages, not ${GH_ASSETS}`);
    await createTerraformRepo(syncing, TF_REPO);
    const started = performance.now();
    for (let i = 0; i < TF_VERSIONS; i++) await publishModule(syncing, TF_REPO, { ...TF_MODULE, version: tfVersion(i) }, smallModule(TF_MODULE.name, tfVersion(i)));
    console.error(`worker-cpu: published ${TF_VERSIONS} versions of ${TF_REPO}/${TF_MODULE.name}/${TF_MODULE.system} in ${fmt.ms(performance.now() - started)}`);
    tfToken = await readToken(syncing, TF_REPO);
  } finally {
    await syncing.stop();
  }
  gh.resetStats();

  // Cold starts: the first request of a fresh process builds the app (imports the signing key;
  // V8 compiles the bundle's functions on first use), reads the head and parses the snapshot.
  // Then, in other fresh processes, the same split in two: GET /healthz first (the app alone),
  // then GET InRelease (the repository's first read). The last process serves the rest.
  const cold = [];
  const split = [];
  let server;
  for (let i = 0; i < 2 * COLD_STARTS; i++) {
    server = await workerd(data);
    const startup = cpuTotal(server.pid); // config, script compile and evaluation, until listening
    if (i % 2 === 0) {
      const first = await measure(server, () => get(server, `/${REPO}/dists/${DIST}/InRelease`));
      cold.push({ startup, cpu: first.cpu, wall: first.wall });
      console.error(`worker-cpu cold start ${i + 1}/${2 * COLD_STARTS}: startup ${fmt.ms(startup)} CPU; first request GET InRelease ${fmt.ms(first.cpu)} CPU, ${fmt.ms(first.wall)} wall`);
    } else {
      const app = await measure(server, () => get(server, '/healthz'));
      const repo = await measure(server, () => get(server, `/${REPO}/dists/${DIST}/InRelease`));
      split.push({ startup, app, repo });
      console.error(`worker-cpu cold start ${i + 1}/${2 * COLD_STARTS}: startup ${fmt.ms(startup)} CPU; first request GET /healthz ${fmt.ms(app.cpu)} CPU, then GET InRelease ${fmt.ms(repo.cpu)} CPU`);
    }
    if (i < 2 * COLD_STARTS - 1) await server.stop();
  }
  const starts = [...cold, ...split];

  // Idle: what workerd burns with nothing to do (part of every measurement below).
  const idle = (await measure(server, () => sleep(2000))).cpu / 2;

  // URLs apt fetches: from the served InRelease and Packages.gz.
  const inRelease = await get(server, `/${REPO}/dists/${DIST}/InRelease`);
  const lastModified = inRelease.res.headers.get('last-modified');
  const packagesPath = `main/binary-amd64/Packages.gz`;
  const sha256 = new RegExp(`^ ([0-9a-f]{64})\\s+\\d+\\s+${packagesPath.replace(/\./g, '\\.')}$`, 'm').exec(inRelease.body.toString('utf8').split(/^SHA256:$/m)[1] ?? '')?.[1];
  if (!sha256) throw new Error(`no SHA256 of ${packagesPath} in InRelease`);
  const packagesGz = (await get(server, `/${REPO}/dists/${DIST}/${packagesPath}`)).body;
  if (countStanzas(packagesGz) !== n) throw new Error(`the served Packages.gz lists ${countStanzas(packagesGz)} packages, not ${n}`);
  const filenames = [...packagesText(packagesGz).matchAll(/^Filename: (.+)$/gm)].map((m) => m[1]);
  const pool = Array.from({ length: BATCH }, (_, i) => filenames[Math.floor((i * filenames.length) / BATCH)]);
  // apt revalidates InRelease with If-Modified-Since; when the snapshot shares its second with
  // its parent the server cannot answer that with 304, so then revalidate by ETag.
  let conditional = { 'if-modified-since': lastModified };
  let conditionalName = 'If-Modified-Since';
  if ((await fetch(`${server.url}/${REPO}/dists/${DIST}/InRelease`, { headers: conditional }).then(async (r) => (await r.arrayBuffer(), r.status))) !== 304) {
    conditional = { 'if-none-match': inRelease.res.headers.get('etag') };
    conditionalName = 'If-None-Match';
  }

  // The GitHub-synced repository's pool files, and where one redirects to.
  const ghFilenames = [...packagesText((await get(server, `/${GH_REPO}/dists/${DIST}/${packagesPath}`)).body).matchAll(/^Filename: (.+)$/gm)].map((m) => m[1]);
  if (ghFilenames.length !== GH_ASSETS) throw new Error(`the served ${GH_REPO} Packages.gz lists ${ghFilenames.length} packages, not ${GH_ASSETS}`);
  const location = (await get(server, `/${GH_REPO}/${ghFilenames[0]}`, {}, 302)).res.headers.get('location') ?? '';
  if (!location.startsWith(`${gh.apiUrl}/${GH_FULL_NAME}/releases/download/`)) throw new Error(`GET ${ghFilenames[0]} redirects to ${location}, not to the asset's download URL`);

  // The module's versions (all TF_VERSIONS listed), and where a download answer points: a signed
  // URL that serves the archive with no token.
  const tfAuth = { authorization: `Bearer ${tfToken}` };
  const tfBase = `/-/terraform/modules/v1/${TF_REPO}/${TF_MODULE.name}/${TF_MODULE.system}`;
  const listed = JSON.parse((await get(server, `${tfBase}/versions`, tfAuth)).body.toString('utf8')).modules[0].versions;
  if (listed.length !== TF_VERSIONS) throw new Error(`${tfBase}/versions lists ${listed.length} versions, not ${TF_VERSIONS}`);
  await get(server, `${tfBase}/versions`, {}, 401); // private: no token, no versions
  const tfDownloads = Array.from({ length: BATCH }, (_, i) => tfVersion(Math.floor((i * TF_VERSIONS) / BATCH)));
  const tfLocation = (await get(server, `${tfBase}/${tfDownloads[1]}/download`, tfAuth, 204)).res.headers.get('x-terraform-get') ?? '';
  const tfArchive = new URL(tfLocation, server.url);
  if (!/[?&]signature=[0-9a-f]{64}/.test(tfArchive.search) || !tfArchive.pathname.startsWith(`/${TF_REPO}/modules/`)) throw new Error(`the download answer points to ${tfLocation}, not to a signed archive URL`);
  const fetchedArchive = (await get(server, `${tfArchive.pathname}${tfArchive.search}`)).body;
  if (!fetchedArchive.equals(smallModule(TF_MODULE.name, tfDownloads[1]))) throw new Error(`${tfLocation} does not serve the archive published as ${tfDownloads[1]}`);

  const ops = [
    { name: 'GET /healthz', path: () => '/healthz' },
    { name: 'GET InRelease', path: () => `/${REPO}/dists/${DIST}/InRelease`, budget: true },
    { name: `GET InRelease, ${conditionalName} → 304`, path: () => `/${REPO}/dists/${DIST}/InRelease`, headers: conditional, status: 304 },
    { name: `GET Packages.gz (${fmt.mb(packagesGz.length)})`, path: () => `/${REPO}/dists/${DIST}/${packagesPath}`, budget: true },
    { name: 'GET Packages.gz by-hash', path: () => `/${REPO}/dists/${DIST}/main/binary-amd64/by-hash/SHA256/${sha256}` },
    { name: `GET pool .deb (${BATCH} different)`, path: (i) => `/${REPO}/${pool[i % pool.length]}`, budget: true },
    { name: `GET pool .deb of a GitHub-synced repo → 302 (${GH_ASSETS} different)`, path: (i) => `/${GH_REPO}/${ghFilenames[i % ghFilenames.length]}`, status: 302, budget: true, limitMs: REDIRECT_MS, issue: 14 },
    { name: `GET Terraform module versions (${TF_VERSIONS} versions, read token)`, path: () => `${tfBase}/versions`, headers: tfAuth, budget: true, limitMs: TF_MS, issue: 15 },
    { name: `GET Terraform module download → 204 signed URL (${BATCH} different versions)`, path: (i) => `${tfBase}/${tfDownloads[i % tfDownloads.length]}/download`, headers: tfAuth, status: 204, budget: true, limitMs: TF_MS, issue: 15 },
    { name: 'GET missing pool file → 404', path: () => `/${REPO}/pool/main/n/no-such-package/no-such-package_1.0_amd64.deb`, status: 404 },
    // Lists all N packages as JSON: not something to call per client request.
    { name: `GET /api/v1 …/packages (all ${n}, info)`, path: () => `/api/v1/repos/${REPO}/packages`, count: 20 },
  ];
  for (const op of ops) op.samples = [];
  // Round-robin over the operations, batch by batch, so noise on the machine spreads over all.
  for (let b = 0; b <= BATCHES; b++) {
    for (const op of ops) {
      const count = op.count ?? BATCH;
      const { cpu, wall } = await measure(server, async () => {
        for (let i = 0; i < count; i++) await get(server, op.path(i), op.headers, op.status ?? 200);
      });
      if (b > 0) op.samples.push({ cpu: cpu / count, wall: wall / count });
    }
    if (gh.stats.apiRequests || gh.stats.assetRequests) throw new Error(`workerd called GitHub ${gh.stats.apiRequests + gh.stats.assetRequests} times during the GETs (a public asset's redirect needs no call)`);
    console.error(`worker-cpu GET batch ${b}/${BATCHES}${b === 0 ? ' (warm-up, not counted)' : ''}: ${ops.map((op) => `${op.name.split(' (')[0]} ${b ? fmt.ms(op.samples.at(-1).cpu) : '-'}`).join(', ')}`);
  }

  // Publishing: one fresh small package per run into the N-package repository; the response
  // comes once the new snapshot (indexes, signed InRelease) is published. Run 0 is the first
  // publish after start (the publish coordinator starts, the pool and lists are read).
  let next = 0;
  const publishes = [];
  let publishFirst;
  for (let r = 0; r <= runs; r++) {
    const deb = await writeSmallDeb(work, packageFields(2_000_000 + next++, 'workercpu-'));
    const { cpu, wall } = await measure(server, () => uploadRaw(server, REPO, DIST, deb), SETTLE_MS);
    if (r === 0) publishFirst = { cpu, wall };
    else publishes.push({ cpu, wall });
    console.error(`worker-cpu publish ${r}${r === 0 ? ' (first, not counted)' : `/${runs}`}: ${fmt.ms(cpu)} CPU, ${fmt.ms(wall)} wall`);
  }

  // A big upload: hashing (MD5, SHA-1, SHA-256, SHA-512) and writing every byte, then the same publish.
  const bigs = [];
  for (let r = 0; r < BIG_RUNS; r++) {
    const fields = { package: `workercpu-big-${r}`, version: '1.0-1', architecture: 'amd64', section: 'misc', description: `${BIG_MIB} MiB of random data` };
    const file = join(work, debFileName(fields));
    await writeBigDeb(file, fields, BIG_MIB * 1024 * 1024);
    const bytes = (await stat(file)).size;
    const { cpu, wall } = await measure(server, () => uploadRaw(server, REPO, DIST, file), SETTLE_MS);
    await rm(file);
    bigs.push({ cpu, wall, bytes });
    console.error(`worker-cpu ${BIG_MIB} MiB upload ${r + 1}/${BIG_RUNS}: ${fmt.ms(cpu)} CPU, ${fmt.ms(wall)} wall`);
  }

  // Everything published must be served (after the 1 s head cache).
  await sleep(1500);
  const served = countStanzas((await get(server, `/${REPO}/dists/${DIST}/${packagesPath}`)).body);
  if (served !== n + runs + 1 + BIG_RUNS) throw new Error(`after publishing, workerd serves ${served} packages, expected ${n + runs + 1 + BIG_RUNS}`);
  await server.stop();

  const med = (xs, f) => median(xs.map((x) => x[f]));
  const publish = { cpu: med(publishes, 'cpu'), wall: med(publishes, 'wall'), worst: Math.max(...publishes.map((x) => x.cpu)) };
  const big = { cpu: med(bigs, 'cpu'), wall: med(bigs, 'wall'), mib: med(bigs, 'bytes') / 2 ** 20 };
  // Per MiB: the big upload's CPU beyond a small package's publish, over its size.
  const perMiB = (big.cpu - publish.cpu) / big.mib;
  const row = (name, xs, count) => {
    const cpu = med(xs, 'cpu');
    return [name, fmt.ms(cpu), fmt.ms(Math.min(...xs.map((x) => x.cpu))), fmt.ms(Math.max(...xs.map((x) => x.cpu))), fmt.ms(med(xs, 'wall')), fits(cpu), count];
  };
  table(
    `worker-cpu: workerd CPU time per request, ${n}-package repository (median; GETs: CPU ÷ requests in each batch of ${BATCH} sequential requests, ${BATCHES} batches)`,
    ['operation', 'CPU/request', 'min', 'max', 'wall/request', 'fits plan', 'samples'],
    [
      ['idle workerd, CPU per second (info)', fmt.ms(idle), '', '', '', '', '2 s'],
      ['workerd start until listening (info)', fmt.ms(med(starts, 'startup')), fmt.ms(Math.min(...starts.map((c) => c.startup))), fmt.ms(Math.max(...starts.map((c) => c.startup))), '', '', `${starts.length} starts`],
      row('first request after start: GET InRelease (cold)', cold, `${COLD_STARTS} starts`),
      row('  split: first request GET /healthz (app, key)', split.map((x) => x.app), `${COLD_STARTS} starts`),
      row('  split: then GET InRelease (head, snapshot)', split.map((x) => x.repo), `${COLD_STARTS} starts`),
      ...ops.map((op) => row(op.name, op.samples, `${BATCHES}×${op.count ?? BATCH}`)),
      row('publish 1 small package, first after start', [publishFirst], '1'),
      row(`publish 1 small package into ${n}`, publishes, `${runs} runs`),
      row(`upload + publish 1 ${BIG_MIB} MiB package`, bigs, `${BIG_RUNS} runs`),
      [`  → upload, per MiB (beyond a small publish)`, `${perMiB.toFixed(1)} ms/MiB`, '', '', `${fmt.mbps((big.mib * 2 ** 20) / (big.wall / 1000))}`, '', ''],
    ],
  );
  console.log(
    [
      `CPU is that of the whole workerd process (all threads, /proc/PID/task/*/schedstat): the Worker's JavaScript plus workerd's`,
      `own HTTP handling and the disk service's file I/O (on Cloudflare, R2 instead), so an upper bound for the CPU time Cloudflare`,
      `bills the Worker. Wall time is as the client saw it (loopback, for information). Plans: Free ${FREE_MS} ms CPU per request;`,
      `paid ${PAID_MS / 1000} s by default (configurable up to 5 min). The first request of each new isolate also builds the app`,
      `(the cold rows). At ${perMiB.toFixed(1)} ms/MiB, one upload + publish into this repository stays under ${PAID_MS / 1000} s of CPU up to`,
      `about ${Math.floor((PAID_MS - publish.cpu) / perMiB).toLocaleString('en-US')} MiB (Cloudflare also caps request bodies: 100 MB on Free and Pro).`,
    ].join('\n'),
  );

  const budgetOps = ops.filter((op) => op.budget);
  const checks = [
    ...budgetOps.map((op) => {
      const cpu = med(op.samples, 'cpu');
      const limit = op.limitMs ?? FREE_MS;
      return check('worker-cpu', `${op.name.split(' (')[0]} CPU per request ÷ ${limit} ms (${op.issue ? `issue ${op.issue}` : 'Free plan'})`, cpu / limit, 1, 'max', `(${fmt.ms(cpu)})`);
    }),
    // The limit applies to every request: the worst run.
    check('worker-cpu', `publish 1 package into ${n}, CPU (worst of ${runs}) ÷ ${PAID_MS / 1000} s (paid plan default)`, publish.worst / PAID_MS, 1, 'max', `(${fmt.ms(publish.worst)}; median ${fmt.ms(publish.cpu)})`),
  ];
  writeResults('worker-cpu', {
    n,
    runs,
    unit: 'ms',
    note: 'cpu: whole workerd process (all threads), an upper bound for the Worker’s billed CPU time; wall: as seen by the client',
    idleCpuPerSecond: idle,
    cold,
    coldSplit: split.map((x) => ({ startup: x.startup, app: { cpu: x.app.cpu, wall: x.app.wall }, repo: { cpu: x.repo.cpu, wall: x.repo.wall } })),
    gets: Object.fromEntries(ops.map((op) => [op.name, { requestsPerBatch: op.count ?? BATCH, perRequest: op.samples }])),
    publishFirst,
    publishes,
    big: { mib: BIG_MIB, runs: bigs, cpuPerMiB: perMiB },
    median: { publish, big },
    checks,
  });
  return checks;
}

