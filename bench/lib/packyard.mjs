// Driving Packyard: `packyard add` in batches, and `packyard serve` with its HTTP API.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { PACKYARD, daemon, freePort, run, waitForHttp } from './proc.mjs';

/**
 * Files per `packyard add` invocation. All in one, as a user would: 10,000 paths are about
 * 0.6 MB of arguments, well under ARG_MAX (2 MiB here). (Until 8b343a4, `add` went through the
 * multipart API, which refuses more than 1000 parts; `packyard upload` still does.)
 */
export const ADD_BATCH = Infinity;

/**
 * `packyard add --create` of `files` (batched); `create` are the settings of the repository it
 * makes when there is none (`--architectures`, `--public`), ignored when it exists.
 */
export async function add(data, repo, dist, files, { batch = ADD_BATCH, create = [] } = {}) {
  let ms = 0;
  for (let i = 0; i < files.length; i += batch) ms += (await run(process.execPath, addArgs(data, repo, dist, files.slice(i, i + batch), create))).ms;
  return ms;
}

function addArgs(data, repo, dist, files, create) {
  return [PACKYARD, 'add', '--create', ...create, '--data', data, '--repo', repo, '--distribution', dist, '--component', 'main', '--json', ...files];
}

/**
 * One `packyard add` of `files` under GNU time (/usr/bin/time, Debian package `time`): its wall
 * time (ms) and the CLI's peak RSS (bytes; the process's VmHWM at exit, as time's %M reports it).
 */
export async function addPeakRss(data, repo, dist, files, { create = [] } = {}) {
  const { ms, stderr } = await run('/usr/bin/time', ['-f', 'packyard-peak-rss-kb %M', process.execPath, ...addArgs(data, repo, dist, files, create)]);
  const kb = /packyard-peak-rss-kb (\d+)\s*$/.exec(stderr)?.[1];
  if (!kb) throw new Error(`no peak RSS from /usr/bin/time in: ${stderr.slice(-500)}`);
  return { ms, peakRss: Number(kb) * 1024 };
}

/**
 * Starts `packyard serve` on a free loopback port; resolves once it answers. `data` is a
 * directory or an `s3://` URL (`env`: the AWS_* variables; `token`: share one between nodes).
 */
export async function serve(data, { env = {}, token = randomBytes(16).toString('hex') } = {}) {
  const port = await freePort();
  const store = data.startsWith('s3://') ? ['--storage', data] : ['--data', data];
  const child = daemon(process.execPath, [PACKYARD, 'serve', ...store, '--host', '127.0.0.1', '--port', String(port), '--no-default-repo'], {
    env: { ...env, PACKYARD_ADMIN_TOKEN: token },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/healthz`, child);
  return { url, token, child, pid: child.pid, stop: () => child.stop() };
}

/**
 * Uploads one package as a raw request body (a .deb unless `contentType` says otherwise; an .rpm
 * has no component: pass `component: null`); resolves with the response JSON and the time it took.
 */
export async function uploadRaw(server, repo, dist, file, { component = 'main', contentType = 'application/vnd.debian.binary-package' } = {}) {
  const body = await readFile(file);
  const query = new URLSearchParams({ distribution: dist, ...(component ? { component } : {}) });
  const started = performance.now();
  const response = await fetch(`${server.url}/api/v1/repos/${repo}/packages?${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.token}`, 'content-type': contentType },
    body,
  });
  const json = await response.json();
  const ms = performance.now() - started;
  if (response.status !== 201) throw new Error(`upload of ${file}: HTTP ${response.status} ${JSON.stringify(json)}`);
  return { ms, json };
}

export async function createRepo(server, repo, dist) {
  const response = await fetch(`${server.url}/api/v1/repos`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: repo, type: 'deb', architectures: ['amd64'], distributions: { [dist]: { components: ['main'] } } }),
  });
  if (response.status !== 201) throw new Error(`creating ${repo}: HTTP ${response.status} ${await response.text()}`);
}
