// GitHub for the benchmarks: the tests' stand-in (test/helpers/github/standin.ts, a real HTTP
// server for the API and another for the signed asset URLs), loaded through tsx's loader so
// that the benchmarks and the tests drive the same GitHub; the release assets the benchmarks
// put in it; and a Packyard repository synced from it.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tsImport } from 'tsx/esm/api';
import { writeBigDeb, smallDeb } from './deb.mjs';
import { debFileName, packageFields } from './inputs.mjs';
import { CACHE, atExit } from './proc.mjs';

/** The stand-in's module: startGitHubStandin, webhookHeaders. */
const standinModule = () => tsImport('../../test/helpers/github/standin.ts', import.meta.url);

/** A started stand-in, closed at exit like every server a benchmark starts. */
export async function startStandin() {
  const { startGitHubStandin, webhookHeaders } = await standinModule();
  const gh = await startGitHubStandin();
  atExit(() => void gh.close());
  return { gh, webhookHeaders };
}

/** Size of the i-th release asset: 1 to 3 MiB, spread deterministically. */
export const assetSize = (i) => 1024 * 1024 + ((i * 7919) % 2049) * 1024;

/** Control fields of the i-th release asset (`gh-` names, varied as the other inputs are). */
export const assetFields = (i) => packageFields(i, 'gh-');

/**
 * N realistic release assets: .debs of 1–3 MiB whose data.tar holds incompressible bytes (so a
 * sync that downloaded them would pay the full size), written once into CACHE/github-debs-N/,
 * two at a time. Resolves with their names and bytes, in order.
 */
export async function releaseAssets(n) {
  const dir = join(CACHE, `github-debs-${n}`);
  if (!existsSync(join(dir, '.complete'))) {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const started = performance.now();
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < n; i = next++) await writeBigDeb(join(dir, debFileName(assetFields(i))), assetFields(i), assetSize(i));
    };
    await Promise.all([worker(), worker()]);
    await writeFile(join(dir, '.complete'), '');
    console.error(`generated ${n} release assets of 1–3 MiB in ${((performance.now() - started) / 1000).toFixed(1)} s (${dir})`);
  }
  const names = Array.from({ length: n }, (_, i) => debFileName(assetFields(i)));
  const present = new Set(await readdir(dir));
  const missing = names.find((name) => !present.has(name));
  if (missing) throw new Error(`${dir} lacks ${missing}: delete the directory to regenerate it`);
  return Promise.all(names.map(async (name) => ({ name, bytes: new Uint8Array(await readFile(join(dir, name))) })));
}

/** One more release asset of `size` bytes (fresh package `i`), built in `dir` and read back. */
export async function oneAsset(dir, i, size) {
  const fields = assetFields(i);
  const file = join(dir, debFileName(fields));
  await writeBigDeb(file, fields, size);
  const bytes = new Uint8Array(await readFile(file));
  await rm(file);
  return { name: debFileName(fields), bytes, fields };
}

/** Small release assets (a README each), for the Worker's redirect measurement. */
export function smallAssets(n) {
  return Array.from({ length: n }, (_, i) => {
    const fields = packageFields(i, 'ghw-');
    return { name: debFileName(fields), bytes: new Uint8Array(smallDeb(fields)) };
  });
}

/**
 * Puts `assets` into the stand-in's `fullName` as releases of `perRelease` assets each (tags
 * v1.0.0, v1.1.0, …, the last one newest), each release also carrying a SHA256SUMS, as release
 * pipelines publish (ignored by the sync).
 */
export function addReleases(gh, fullName, assets, perRelease) {
  for (let r = 0; r * perRelease < assets.length; r++) {
    const own = assets.slice(r * perRelease, (r + 1) * perRelease);
    const sums = own.map((a) => `${a.name}\n`).join('');
    gh.addRelease(fullName, { tag: `v1.${r}.0`, assets: [...own, { name: 'SHA256SUMS', bytes: new TextEncoder().encode(sums) }] });
  }
}

/** POST with the server's admin token and a JSON body; resolves with the answer's JSON. Throws unless `status`. */
export async function postJson(server, path, body, status = 200) {
  const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json();
  if (res.status !== status) throw new Error(`POST ${path}: HTTP ${res.status}, expected ${status}: ${JSON.stringify(json).slice(0, 500)}`);
  return json;
}

/** Creates public deb repository `repo` (amd64) whose source is the stand-in's `fullName`. */
export function createSyncedRepo(server, repo, gh, fullName, github = {}) {
  return postJson(server, '/api/v1/repos', { name: repo, type: 'deb', public: true, architectures: ['amd64'], source: { github: { repository: fullName, apiUrl: gh.apiUrl, ...github } } }, 201);
}

/** `POST /api/v1/repos/<repo>/sync`: the report, and the time until the answer. */
export async function syncRepo(server, repo) {
  const started = performance.now();
  const { report } = await postJson(server, `/api/v1/repos/${repo}/sync`);
  return { report, ms: performance.now() - started };
}
