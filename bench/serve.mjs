// serve: packyard serve vs nginx serving `packyard export` of the same repository, on loopback.
import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { bigDeb } from './lib/inputs.mjs';
import { throwawayKey } from './lib/peers.mjs';
import { serve } from './lib/packyard.mjs';
import { DIST, REPO, baseRepos } from './lib/repos.mjs';
import { PACKYARD, ROOT, copyTree, daemon, freePort, run as exec, tempDir, waitForHttp } from './lib/proc.mjs';
import { curlDownload, startNginx, wrk } from './lib/http.mjs';
import { check, fmt, median, rotated, table, writeResults } from './lib/stats.mjs';

export const description = 'packyard serve vs nginx (sendfile, 1 worker) serving the packyard export tree: InRelease, Packages.gz, a 512 MiB .deb';
export const defaultRuns = 3;

const BIG_MIB = 512;
const DOWNLOADS = 5;

export async function run({ n, runs, duration }) {
  const base = await baseRepos(n, await throwawayKey());
  const big = await bigDeb(BIG_MIB);
  const work = tempDir('serve');
  const data = join(work, 'packyard');
  const www = join(work, 'www');
  copyTree(base.packyard, data);
  const packyard = await serve(data);
  console.error(`serve: uploading the ${BIG_MIB} MiB .deb, exporting the repository for nginx...`);
  await exec(process.execPath, [PACKYARD, 'upload', '--url', packyard.url, '--token', packyard.token, '--repo', REPO, '--distribution', DIST, '--json', big]);
  await exec(process.execPath, [PACKYARD, 'export', '--data', data, '--repo', REPO, join(www, REPO)]);
  const nginx = await startNginx(join(work, 'nginx'), www);

  const paths = {
    inrelease: `/${REPO}/dists/${DIST}/InRelease`,
    packages: `/${REPO}/dists/${DIST}/main/binary-amd64/Packages.gz`,
    deb: `/${REPO}/pool/main/b/big-payload-${BIG_MIB}m/big-payload-${BIG_MIB}m_1.0-1_amd64.deb`,
  };
  // For reference only: plain node:http answering the two small files from memory.
  const nodePort = await freePort();
  const node = daemon(process.execPath, [join(ROOT, 'bench/lib/node-static.mjs'), String(nodePort), www, paths.inrelease, paths.packages]);
  node.url = `http://127.0.0.1:${nodePort}`;
  await waitForHttp(node.url, node);

  // All must serve the very same bytes.
  const sizes = {};
  for (const [what, path] of Object.entries(paths)) {
    const servers = what === 'deb' ? [packyard, nginx] : [packyard, nginx, node];
    const responses = await Promise.all(servers.map((s) => fetch(`${s.url}${path}`, { method: what === 'deb' ? 'HEAD' : 'GET' })));
    if (responses.some((r) => r.status !== 200)) throw new Error(`${path}: HTTP ${responses.map((r) => r.status).join(', ')} (packyard, nginx, node)`);
    const bodies = what === 'deb' ? [] : await Promise.all(responses.map((r) => r.text()));
    if (bodies.some((b) => b !== bodies[0])) throw new Error(`${path}: packyard and nginx serve different bytes`);
    sizes[what] = Number(responses[1].headers.get('content-length'));
  }
  if (sizes.deb !== (await stat(big)).size) throw new Error(`the big .deb is served as ${sizes.deb} bytes`);

  const names = ['packyard', 'nginx', 'node'];
  const servers = { packyard, nginx, node };
  const samples = Object.fromEntries(names.map((name) => [name, { inrelease: [], packages: [], deb: [] }]));
  for (let r = 0; r < runs; r++) {
    for (const what of ['inrelease', 'packages']) {
      for (const name of rotated(names, r)) {
        const result = await wrk(`${servers[name].url}${paths[what]}`, { threads: 1, connections: 32, seconds: duration });
        samples[name][what].push(result);
        console.error(`serve run ${r + 1}/${runs}: ${name} ${what} ${fmt.rps(result.rps)} ${fmt.mbps(result.bytesPerSec)}`);
      }
    }
  }
  for (let r = 0; r < DOWNLOADS; r++) {
    for (const name of rotated(['packyard', 'nginx'], r)) {
      const result = await curlDownload(`${servers[name].url}${paths.deb}`, sizes.deb);
      samples[name].deb.push(result);
      console.error(`serve download ${r + 1}/${DOWNLOADS}: ${name} ${fmt.mbps(result.bytesPerSec)}`);
    }
  }
  await Promise.all([packyard.stop(), nginx.stop(), node.stop()]);

  const med = (name, what, field) => (samples[name][what].length ? median(samples[name][what].map((s) => s[field])) : NaN);
  const wrkHow = `wrk -t1 -c32 -d${duration}s ×${runs}`;
  const rows = [
    { what: 'inrelease', label: 'InRelease', field: 'rps', f: fmt.rps, how: `${wrkHow}, ${sizes.inrelease} B` },
    { what: 'packages', label: 'Packages.gz', field: 'bytesPerSec', f: fmt.mbps, how: `${wrkHow}, ${fmt.mb(sizes.packages)}` },
    { what: 'deb', label: `${BIG_MIB} MiB .deb`, field: 'bytesPerSec', f: fmt.mbps, how: `curl -o /dev/null ×${DOWNLOADS}` },
  ].map((row) => {
    const [p, x, o] = names.map((name) => med(name, row.what, row.field));
    return { ...row, p, x, o, ratio: p / x };
  });
  table(
    `serve: ${n}-package repository on loopback (medians; load generator and server share the 2 cores)`,
    ['request', 'packyard', 'nginx', 'packyard ÷ nginx', 'node:http from memory (info)', 'measured with'],
    rows.map((r) => [r.label, r.f(r.p), r.f(r.x), fmt.x(r.ratio), Number.isNaN(r.o) ? '-' : `${r.f(r.o)} (${fmt.x(r.o / r.x)})`, r.how]),
  );
  const checks = rows.map((r) => check('serve', `${r.label} ${r.what === 'inrelease' ? 'requests/s' : 'throughput'} packyard ÷ nginx`, r.ratio, 0.7, 'min', `(${r.f(r.p)} vs ${r.f(r.x)})`));
  writeResults('serve', {
    n,
    runs,
    duration,
    sizes,
    samples,
    median: Object.fromEntries(rows.map((r) => [r.what, { packyard: r.p, nginx: r.x, node: r.o, ratio: r.ratio }])),
    checks,
  });
  return checks;
}
