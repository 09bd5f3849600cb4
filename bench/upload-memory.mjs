// upload-memory: the server's memory while `packyard upload` sends it a 1 GiB .deb, and while a
// 50 MB Terraform module archive is published to it (issue 15).
import { existsSync } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bigDeb } from './lib/inputs.mjs';
import { createRepo, serve } from './lib/packyard.mjs';
import { DIST, REPO } from './lib/repos.mjs';
import { CACHE, PACKYARD, daemon, memory, tempDir } from './lib/proc.mjs';
import { createTerraformRepo, publishModule, writeBigModule } from './lib/terraform.mjs';
import { check, fmt, median, table, writeResults } from './lib/stats.mjs';

export const description = 'server RSS growth while `packyard upload` sends a 1 GiB .deb to `packyard serve`, and while a 50 MB Terraform module is published to it';
export const defaultRuns = 3;

const BIG_MIB = 1024;
const SAMPLE_MS = 10;
/** The module archive: one main.tf and 5 incompressible files of 10 MiB (52.4 MB as .tar.gz). */
const MODULE_FILES = 5;
const MODULE_FILE_BYTES = 10 * 1024 * 1024;
const TF_REPO = 'tf';

/** The 50 MB module archive (made once, then reused). */
async function bigModule() {
  const path = join(CACHE, `terraform-module-${MODULE_FILES}x${MODULE_FILE_BYTES / 2 ** 20}m.tar.gz`);
  if (!existsSync(`${path}.complete`)) {
    await mkdir(CACHE, { recursive: true });
    await writeBigModule(path, { files: MODULE_FILES, fileBytes: MODULE_FILE_BYTES });
    await writeFile(`${path}.complete`, '');
  }
  return path;
}

/** The peak of a process's VmRSS, sampled every SAMPLE_MS until `done` settles; rejects as `done` does. */
async function sampleUntil(done, pid) {
  let peakRss = 0;
  let settled = false;
  const finished = done.finally(() => (settled = true));
  const quiet = finished.catch(() => {}); // the rejection is the caller's, below
  while (!settled) {
    peakRss = Math.max(peakRss, memory(pid)?.rss ?? 0);
    await Promise.race([quiet, new Promise((r) => setTimeout(r, SAMPLE_MS))]);
  }
  return { result: await finished, peakRss };
}

/**
 * Publishes the 50 MB module archive `runs` times, each to a fresh `packyard serve` (one private
 * Terraform repository), the body streamed from the file by this process; the growth is measured
 * as for the .deb.
 */
async function moduleRuns(runs) {
  const file = await bigModule();
  const size = (await stat(file)).size;
  const results = [];
  for (let r = 0; r < runs; r++) {
    const server = await serve(tempDir('upload-memory-tf'));
    await createTerraformRepo(server, TF_REPO);
    await new Promise((done) => setTimeout(done, 1000));
    const before = memory(server.pid);
    const started = performance.now();
    let sampled;
    try {
      sampled = await sampleUntil(publishModule(server, TF_REPO, { name: 'payload', system: 'aws', version: `1.0.${r}` }, file), server.pid);
    } catch (err) {
      throw new Error(`${err.message}\n${server.child.output().slice(-2000)}`);
    }
    const seconds = (performance.now() - started) / 1000;
    const after = memory(server.pid);
    await server.stop();
    if (!sampled.result.changed) throw new Error(`publishing the module changed nothing: ${JSON.stringify(sampled.result)}`);
    const peak = Math.max(before.rss, sampled.peakRss, after.hwm);
    results.push({ before: before.rss, peakRss: sampled.peakRss, hwmAfter: after.hwm, growth: peak - before.rss, seconds });
    console.error(`upload-memory module run ${r + 1}/${runs}: server RSS ${fmt.mb(before.rss)} → peak ${fmt.mb(peak)} (+${fmt.mb(peak - before.rss)}), ${fmt.mbps(size / seconds)}`);
  }
  const med = (field) => median(results.map((x) => x[field]));
  const worst = Math.max(...results.map((x) => x.growth));
  table(
    `upload-memory: one ${fmt.mb(size)} Terraform module (.tar.gz of ${MODULE_FILES} incompressible files + main.tf), streamed raw POST …/modules/…/<version> (${runs} runs, a fresh server each)`,
    ['measure', 'median', 'worst'],
    [
      ['server RSS before', fmt.mb(med('before')), fmt.mb(Math.max(...results.map((x) => x.before)))],
      ['server peak RSS (max of samples, VmHWM)', fmt.mb(med('before') + med('growth')), fmt.mb(Math.max(...results.map((x) => Math.max(x.peakRss, x.hwmAfter))))],
      ['server peak growth', fmt.mb(med('growth')), fmt.mb(worst)],
      ['publish throughput, info', fmt.mbps(size / med('seconds')), fmt.mbps(size / Math.max(...results.map((x) => x.seconds)))],
    ],
  );
  const checks = [check('upload-memory', `server peak RSS growth publishing a ${fmt.mb(size)} module (MB, worst run) ÷ 100 MB`, worst / 100e6, 1, 'max', `(+${fmt.mb(worst)}; budget < 100 MB)`)];
  return { size, results, checks };
}

/**
 * `packyard upload` of the 1 GiB .deb `runs` times, each to a fresh server from `startServer()`
 * (one that has repository REPO); the server's RSS growth, the client's peak and the throughput.
 * `where` names the server's storage in the table and the budget line. The s3 benchmark calls
 * this with servers on a bucket.
 */
export async function debUploadRuns(runs, startServer, { name = 'upload-memory', where = '' } = {}) {
  const big = await bigDeb(BIG_MIB);
  const size = (await stat(big)).size;
  const results = [];
  for (let r = 0; r < runs; r++) {
    // A fresh server each run, so its high-water mark says only this upload.
    const server = await startServer();
    await new Promise((done) => setTimeout(done, 1000)); // let startup garbage settle
    const before = memory(server.pid);
    const started = performance.now();
    const client = daemon(process.execPath, [PACKYARD, 'upload', '--url', server.url, '--token', server.token, '--repo', REPO, '--distribution', DIST, '--json', big]);
    let peakRss = before.rss;
    let clientPeak = 0;
    const exit = new Promise((done) => client.once('exit', (code) => done(code)));
    let code;
    while ((code = await Promise.race([exit, new Promise((done) => setTimeout(() => done(undefined), SAMPLE_MS))])) === undefined) {
      peakRss = Math.max(peakRss, memory(server.pid)?.rss ?? 0);
      clientPeak = Math.max(clientPeak, memory(client.pid)?.rss ?? 0);
    }
    const seconds = (performance.now() - started) / 1000;
    const after = memory(server.pid);
    await server.stop();
    if (code !== 0 || !/"changed":\s*true/.test(client.output())) throw new Error(`packyard upload exited ${code}:\n${client.output().slice(-2000)}`);
    const growth = Math.max(peakRss, after.hwm) - before.rss;
    results.push({ before: before.rss, peakRss, hwmAfter: after.hwm, growth, clientPeak, seconds });
    console.error(`${name} run ${r + 1}/${runs}: server RSS ${fmt.mb(before.rss)} → peak ${fmt.mb(Math.max(peakRss, after.hwm))} (+${fmt.mb(growth)}), ${fmt.mbps(size / seconds)}`);
  }
  const med = (field) => median(results.map((x) => x[field]));
  const worst = Math.max(...results.map((x) => x.growth));
  table(
    `${name}: one ${BIG_MIB} MiB .deb through \`packyard upload\`${where ? ` to a server on ${where}` : ''} (${runs} runs, a fresh server each, RSS sampled every ${SAMPLE_MS} ms)`,
    ['measure', 'median', 'worst'],
    [
      ['server RSS before', fmt.mb(med('before')), fmt.mb(Math.max(...results.map((x) => x.before)))],
      ['server peak RSS (max of samples, VmHWM)', fmt.mb(med('before') + med('growth')), fmt.mb(Math.max(...results.map((x) => Math.max(x.peakRss, x.hwmAfter))))],
      ['server peak growth', fmt.mb(med('growth')), fmt.mb(worst)],
      ['client (packyard upload) peak RSS, info', fmt.mb(med('clientPeak')), fmt.mb(Math.max(...results.map((x) => x.clientPeak)))],
      ['upload throughput, info', fmt.mbps(size / med('seconds')), fmt.mbps(size / Math.max(...results.map((x) => x.seconds)))],
    ],
  );
  // Budget on the worst run: memory must stay bounded every time, not on average.
  const checks = [check(name, `server peak RSS growth${where ? ` on ${where}` : ''} (MB, worst run) ÷ 100 MB`, worst / 100e6, 1, 'max', `(+${fmt.mb(worst)}; budget < 100 MB)`)];
  return { size, results, checks };
}

export async function run({ runs }) {
  const { size, results, checks } = await debUploadRuns(runs, async () => {
    const server = await serve(tempDir('upload-memory'));
    await createRepo(server, REPO, DIST);
    return server;
  });
  const module = await moduleRuns(runs);
  checks.push(...module.checks);
  writeResults('upload-memory', { runs, bytes: size, results, module: { bytes: module.size, results: module.results }, checks });
  return checks;
}
