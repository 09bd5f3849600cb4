// Diagnosis of the RPM publish (not a budget): where `packyard add` of N RPMs into a new
// repository spends its time. Run alone (needs the RPMs bench/rpm.mjs generates, made if missing):
//
//   node bench/profile-rpm-add.mjs [--n 5000]
//
// 1. `node --cpu-prof packyard add --create` of all N into a new data directory (the CLI, worker threads
//    ingesting); the main thread's and the workers' profiles summarised apart.
// 2. lib/publish-phases.mjs with RUNS 0 (one batch of all N, in-process, the sources through
//    tsx, files read on the main thread): wall ms per phase.
import { join } from 'node:path';
import { readdirSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { generatedRpms } from './lib/rpm-inputs.mjs';
import { PACKYARD, ROOT, cleanup, run, tempDir } from './lib/proc.mjs';
import { report, summarise } from './lib/cpuprofile.mjs';
import { fmt } from './lib/stats.mjs';

const { values } = parseArgs({ options: { n: { type: 'string', default: '5000' } } });
const n = Number(values.n);
const REPO = 'yum';
const DIST = 'el9';

const createRepo = (data) => run(process.execPath, [PACKYARD, 'repo', 'create', REPO, '--type', 'rpm', '--public', '--distribution', DIST, '--architectures', 'x86_64', '--data', data]);

try {
  const rpms = await generatedRpms(n);
  const work = tempDir('profile-rpm');

  // 1. The CLI under --cpu-prof.
  const data = join(work, 'data');
  await run('sync', []);
  const profDir = join(work, 'prof');
  const { ms } = await run(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-interval', '500', PACKYARD, 'add', '--create', '--public', '--architectures', 'x86_64', '--data', data, '--repo', REPO, '--distribution', DIST, '--json', ...rpms.files]);
  console.log(`packyard add of ${n} RPMs under --cpu-prof: ${fmt.s(ms)}`);
  // The main thread's profile is the largest-sampled one (it lives longest); workers write their own when they exit.
  const profiles = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(profDir, f));
  const byLife = profiles.map((p) => ({ p, s: summarise([p]) })).sort((a, b) => b.s.ms - a.s.ms);
  console.log(`${profiles.length} profile(s): ${byLife.map(({ p, s }) => `${p.replace(/.*\//, '')} ${s.ms.toFixed(0)} ms (busy ${(s.ms - s.idle).toFixed(0)})`).join(', ')}`);
  console.log('\n== main thread');
  console.log(report(byLife[0].s, 30));
  if (byLife.length > 1) {
    console.log(`\n== worker threads (${byLife.length - 1}, summed)`);
    console.log(report(summarise(byLife.slice(1).map((x) => x.p)), 20));
  }

  // 2. In-process phases (one batch).
  const data2 = join(work, 'data2');
  await createRepo(data2);
  await run('sync', []);
  const { stdout } = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/lib/publish-phases.mjs'), data2, REPO, DIST, 'main', '0', ...rpms.files], { cwd: ROOT });
  const result = JSON.parse(stdout);
  console.log(`\n== phases of one RepositoryService.upload of ${n} RPMs (in-process; files read on the main thread, 8 at a time; nested phases are inside their parents; concurrent calls add up)`);
  for (const [name, p] of Object.entries(result.phases).sort((a, b) => b[1].ms - a[1].ms)) {
    console.log(`  ${p.ms.toFixed(1).padStart(9)} ms  ${String(p.calls).padStart(6)}×  ${p.bytes ? `${(p.bytes / 1024).toFixed(0).padStart(7)} KiB` : '           '}  ${name}`);
  }
  void statSync;
} finally {
  cleanup();
}
