// retention: add one version of a package to the N-package repository, with keepVersions on
// (each add then prunes the oldest) and off (nothing pruned), on two copies of the same data.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { packageFields, writeSmallDeb } from './lib/inputs.mjs';
import { serve, uploadRaw } from './lib/packyard.mjs';
import { DIST, REPO, packagesText, packyardBase } from './lib/repos.mjs';
import { CACHE, copyTree, tempDir } from './lib/proc.mjs';
import { check, fmt, median, rotated, table, writeResults } from './lib/stats.mjs';

export const description = 'add one version to an N-package repository with retention (keepVersions 2, pruning one each add) and without';
export const defaultRuns = 15;

const KEEP = 2;

/**
 * A base from any build: both sides start from the same copy, so its build does not favour
 * either (and the base of another build stays for the benchmarks that need their own).
 */
function anyBase(n) {
  const dirs = existsSync(CACHE) ? readdirSync(CACHE).filter((d) => d.startsWith(`base-${n}-`)) : [];
  const done = dirs.map((d) => join(CACHE, d)).find((d) => existsSync(join(d, '.complete')) || existsSync(join(d, '.packyard-complete')));
  return done ? join(done, 'packyard') : packyardBase(n);
}

async function patch(server, body) {
  const started = performance.now();
  const res = await fetch(`${server.url}/api/v1/repos/${REPO}`, { method: 'PATCH', headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`PATCH ${REPO}: HTTP ${res.status} ${await res.text()}`);
  return performance.now() - started;
}

/** The versions of `name` the server's amd64 Packages lists. */
async function listedVersions(server, name) {
  const text = packagesText(Buffer.from(await (await fetch(`${server.url}/${REPO}/dists/${DIST}/main/binary-amd64/Packages.gz`)).arrayBuffer()));
  return text
    .split('\n\n')
    .filter((stanza) => stanza.startsWith(`Package: ${name}\n`))
    .map((stanza) => /^Version: (.*)$/m.exec(stanza)[1]);
}

export async function run({ n, runs }) {
  const base = await anyBase(n);
  const work = tempDir('retention');
  const dirs = { off: join(work, 'off'), on: join(work, 'on') };
  copyTree(base, dirs.off);
  copyTree(base, dirs.on);
  const servers = { off: await serve(dirs.off), on: await serve(dirs.on) };
  // Setting it scans every list once (nothing to prune: one version each): for information.
  const settingMs = await patch(servers.on, { retention: { keepVersions: KEEP } });
  await patch(servers.off, { public: true }); // the same settings publish, so both heads are alike

  // New versions of a package the repository has, in a shard as full as any: what CI uploads.
  const fields = packageFields(3);
  const samples = { off: [], on: [] };
  const first = {};
  for (let r = 0; r <= runs; r++) {
    const deb = await writeSmallDeb(work, { ...fields, version: `${100 + r}.0-1` });
    const ms = {};
    for (const side of rotated(['off', 'on'], r)) ms[side] = (await uploadRaw(servers[side], REPO, DIST, deb)).ms;
    if (r === 0) Object.assign(first, ms);
    else for (const side of ['off', 'on']) samples[side].push(ms[side]);
    console.error(`retention run ${r}${r === 0 ? ' (first, not counted)' : ''}: off ${fmt.ms(ms.off)}, on ${fmt.ms(ms.on)}`);
  }

  const on = await listedVersions(servers.on, fields.package);
  const off = await listedVersions(servers.off, fields.package);
  if (on.length !== KEEP || off.length !== runs + 2) throw new Error(`after retention: ${fields.package} has ${on.length} versions with retention (want ${KEEP}), ${off.length} without (want ${runs + 2})`);
  await Promise.all([servers.off.stop(), servers.on.stop()]);

  const med = { off: median(samples.off), on: median(samples.on) };
  table(
    `retention: 1 version into a ${n}-package repository (median of ${runs} runs; with retention each add prunes one)`,
    ['retention', 'median', 'min', 'max', 'first'],
    [
      ['off', med.off, samples.off, first.off],
      [`on (keepVersions ${KEEP})`, med.on, samples.on, first.on],
    ].map(([name, m, s, f]) => [name, fmt.ms(m), fmt.ms(Math.min(...s)), fmt.ms(Math.max(...s)), fmt.ms(f)]),
  );
  console.log(`setting keepVersions on the ${n}-package repository (one publish, every list read): ${fmt.ms(settingMs)}`);
  const checks = [check('retention', 'add one with retention on ÷ off', med.on / med.off, 1.1, 'max', `(${fmt.ms(med.on)} vs ${fmt.ms(med.off)})`)];
  writeResults('retention', { n, runs, unit: 'ms', samples, first, median: med, settingMs, checks });
  return checks;
}
