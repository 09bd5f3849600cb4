// Load generators (wrk, curl) and nginx serving a static tree.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { daemon, freePort, run, waitForHttp } from './proc.mjs';

/** nginx with one worker (like Packyard's one event loop), sendfile on, serving `root` on a free loopback port. */
export async function startNginx(prefix, root) {
  const port = await freePort();
  for (const d of ['logs', 'tmp']) mkdirSync(join(prefix, d), { recursive: true });
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    `user root;
worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  types { application/vnd.debian.binary-package deb; application/gzip gz; application/pgp-signature gpg; }
  default_type text/plain;
  server {
    listen 127.0.0.1:${port};
    root ${root};
  }
}
`,
  );
  const child = daemon('nginx', ['-p', prefix, '-c', conf]);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/`, child);
  return { url, child, stop: () => child.stop() };
}

const UNITS = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** One wrk run; resolves with requests/s and bytes/s. Fails on socket errors or non-2xx answers. */
export async function wrk(url, { threads = 1, connections = 32, seconds = 10 } = {}) {
  const { stdout } = await run('wrk', [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, url]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const [, amount, unit] = /Transfer\/sec:\s+([\d.]+)([KMG]?)B/.exec(stdout) ?? [];
  const bad = /Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1];
  const socket = /Socket errors: (.*)/.exec(stdout)?.[1];
  if (!(rps > 0) || bad || socket) throw new Error(`wrk ${url}: ${bad ? `${bad} non-2xx responses; ` : ''}${socket ?? ''}\n${stdout}`);
  return { rps, bytesPerSec: Number(amount) * UNITS[unit] };
}

/** One download with curl to /dev/null; resolves with bytes/s. */
export async function curlDownload(url, expectedBytes) {
  const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_total}', url]);
  const [code, size, seconds] = stdout.trim().split(' ').map(Number);
  if (code !== 200 || size !== expectedBytes) throw new Error(`curl ${url}: HTTP ${code}, ${size} bytes (expected ${expectedBytes})`);
  return { bytesPerSec: size / seconds, seconds };
}
