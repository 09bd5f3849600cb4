// Diagnosis of add-one (not a budget): where the time of one API publish into the N-package
// repository goes. Not in run.mjs's list (it checks no budget); run it alone:
//
//   node bench/profile-add-one.mjs [--n 10000] [--runs 10]
//
// 1. `packyard serve --cpu-prof` on a copy of the N-package base, RUNS single-package POSTs
//    (+1 warm-up), alternating with reprepro includedeb of the same file; the server's profile
//    summarised by self and total time (lib/cpuprofile.mjs).
// 2. lib/publish-phases.mjs (the sources through tsx) on another copy: wall ms per phase of
//    RepositoryService.upload, and the steps measured alone.
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { packageFields, writeSmallDeb } from './lib/inputs.mjs';
import { reprepro, throwawayKey } from './lib/peers.mjs';
import { uploadRaw } from './lib/packyard.mjs';
import { DIST, REPO, baseRepos } from './lib/repos.mjs';
import { PACKYARD, ROOT, cleanup, copyTree, daemon, freePort, run, tempDir, waitForHttp } from './lib/proc.mjs';
import { fmt, median } from './lib/stats.mjs';
import { report, summarise } from './lib/cpuprofile.mjs';
import { randomBytes } from 'node:crypto';

const { values } = parseArgs({ options: { n: { type: 'string', default: '10000' }, runs: { type: 'string', default: '10' } } });
const n = Number(values.n);
const runs = Number(values.runs);

try {
  const key = await throwawayKey();
  const base = await baseRepos(n, key);
  const work = tempDir('profile-add-one');
  let next = 0;
  const freshDeb = () => writeSmallDeb(work, packageFields(2_000_000 + next++, 'prof-'));

  // 1. The server under --cpu-prof.
  const data = join(work, 'packyard');
  const rr = join(work, 'reprepro');
  copyTree(base.packyard, data);
  copyTree(base.reprepro, rr);
  reprepro.create(rr, key, DIST);
  const profDir = join(work, 'prof');
  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  const child = daemon(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-interval', '200', PACKYARD, 'serve', '--data', data, '--host', '127.0.0.1', '--port', String(port), '--no-default-repo'], { env: { PACKYARD_ADMIN_TOKEN: token } });
  const server = { url: `http://127.0.0.1:${port}`, token };
  await waitForHttp(`${server.url}/healthz`, child);
  const api = [];
  const rep = [];
  for (let r = 0; r <= runs; r++) {
    const deb = await freshDeb();
    // Alternate the order so neither always runs right after the other's disk writes.
    const doApi = async () => (await uploadRaw(server, REPO, DIST, deb)).ms;
    const doRep = async () => (await reprepro.includedeb(rr, key, DIST, [deb])).ms;
    const [a, b] = r % 2 ? [await doRep(), await doApi()].reverse() : [await doApi(), await doRep()];
    if (r > 0) api.push(a), rep.push(b);
    console.error(`run ${r}${r ? '' : ' (warm-up)'}: API ${fmt.ms(a)} (with --cpu-prof), reprepro ${fmt.ms(b)}`);
  }
  // A publish after the repository sat idle: every stored object's time set 10 minutes back (as
  // after 10 quiet minutes), so objects a publish re-uses are past the guard's refresh time.
  const idle = [];
  for (let r = 0; r < 3; r++) {
    await run('sh', ['-c', `find "${join(data, 'repos')}" -type f -exec touch -d '-10 minutes' {} +`]);
    await new Promise((done) => setTimeout(done, 1200)); // past the server's 1 s head cache
    idle.push((await uploadRaw(server, REPO, DIST, await freshDeb())).ms);
  }
  console.error(`after 10 idle minutes (mtimes set back): API ${idle.map(fmt.ms).join(', ')}`);
  await child.stop();
  console.log(`\nAPI publish after 10 idle minutes (stored objects' mtimes set back 10 min): ${idle.map(fmt.ms).join(', ')}`);
  console.log(`\nAPI publish under --cpu-prof: median ${fmt.ms(median(api))}; reprepro includedeb: median ${fmt.ms(median(rep))}; ratio ${fmt.x(median(api) / median(rep))}`);
  const profiles = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(profDir, f));
  console.log(`\n== server CPU profile (${profiles.length} file(s), whole server life incl. start-up; per publish ≈ ÷ ${runs + 1})`);
  console.log(report(summarise(profiles), 35));

  // 2. In-process phases.
  const data2 = join(work, 'packyard-phases');
  copyTree(base.packyard, data2);
  const files = [];
  for (let r = 0; r <= runs; r++) files.push((await freshDeb()));
  const { stdout } = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/lib/publish-phases.mjs'), data2, REPO, DIST, 'main', String(runs + 1), ...files], { cwd: ROOT, quiet: false });
  const result = JSON.parse(stdout);
  console.log(`\n== phases of RepositoryService.upload (in-process, median of ${result.runs} after a warm-up; nested phases are inside their parents)`);
  for (const [name, p] of Object.entries(result.phases).sort((a, b) => b[1].ms - a[1].ms)) {
    console.log(`  ${p.ms.toFixed(1).padStart(8)} ms  ${String(p.calls).padStart(3)}×  ${p.bytes ? `${(p.bytes / 1024).toFixed(0).padStart(6)} KiB` : '          '}  ${name}   (warm-up ${p.first.toFixed(1)} ms)`);
  }
  console.log('\n== timeline of the last publish (spans ≥ 0.5 ms; start–end ms from the call)');
  for (const [name, s, e, b] of result.timeline) console.log(`  ${s.toFixed(1).padStart(7)} – ${e.toFixed(1).padStart(7)}  (${(e - s).toFixed(1).padStart(6)} ms)  ${name}${b ? ` ${(b / 1024).toFixed(0)} KiB` : ''}`);
  console.log('\n== sizes');
  for (const [k, v] of Object.entries(result.sizes)) console.log(`  ${k}: ${v}`);
  console.log('\n== steps alone (median of 7)');
  for (const [k, v] of Object.entries(result.isolated)) console.log(`  ${k}: ${typeof v === 'number' && !/bytes|records/.test(k) ? `${v.toFixed(2)} ms` : v}`);
} finally {
  cleanup();
}
