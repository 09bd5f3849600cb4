// The Packyard server as a real child process, and a small client for its API.
//
// Contract (docs of the CLI): `node bin/packyard.mjs serve --data DIR --host 127.0.0.1
// --port PORT` with PACKYARD_ADMIN_TOKEN in the environment; ready when GET /healthz
// answers 200. The API takes `Authorization: Bearer <token>`.
//
// bin/packyard.mjs runs dist/cli.mjs, the esbuild bundle of src/. A stale bundle would
// test yesterday's code, so the first startServer() of a test process rebuilds it
// (`node scripts/build.mjs`, well under a second). PACKYARD_TEST_SKIP_BUILD=1 skips that.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, openAsBlob } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { cacheDir, repoRoot, runOk } from './exec.js';

export interface StartOptions {
  /** Existing data directory (e.g. to restart on the data of a killed server). Default: a new temp dir. */
  dataDir?: string;
  /** A store in a bucket (`s3://…`, credentials in `env`) served instead of the data directory. */
  storage?: string;
  /** Extra environment for the server. */
  env?: Record<string, string>;
  /** Admin token. Default: random. */
  token?: string;
  /** How long to wait for /healthz. Default 30 s. */
  readyTimeoutMs?: number;
}

export interface RunningServer {
  /** http://127.0.0.1:PORT (no trailing slash). */
  url: string;
  port: number;
  token: string;
  dataDir: string;
  /** Server stdout+stderr, kept after the test for debugging. */
  logFile: string;
  proc: ChildProcess;
  /** SIGTERM, then SIGKILL after 10 s. Removes dataDir if startServer made it, unless keepData. */
  stop(opts?: { keepData?: boolean }): Promise<ExitInfo>;
  /** Sends a signal (e.g. SIGKILL for crash tests) and waits for the exit. Keeps dataDir. */
  kill(signal?: NodeJS.Signals): Promise<ExitInfo>;
  /** The last `bytes` of the log, for assertion messages. */
  logTail(bytes?: number): Promise<string>;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const running = new Set<ChildProcess>();
// A test process that dies must not leave servers holding ports for the next file.
process.once('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

let built: Promise<unknown> | undefined;
function ensureBuilt(): Promise<unknown> {
  if (process.env.PACKYARD_TEST_SKIP_BUILD === '1') return Promise.resolve();
  built ??= runOk(process.execPath, ['scripts/build.mjs'], { cwd: repoRoot }).catch((e: unknown) => {
    built = undefined;
    throw e;
  });
  return built;
}

/** A port that was free a moment ago (the kernel picks it; a race is possible but rare). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  await ensureBuilt();
  const ownsData = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'packyard-data-')));
  const token = opts.token ?? randomBytes(24).toString('hex');
  const logDir = path.join(cacheDir, 'logs');
  await mkdir(logDir, { recursive: true });

  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const logFile = path.join(logDir, `server-${new Date().toISOString().replace(/[:.]/g, '-')}-${port}.log`);
    try {
      return await launch({ port, logFile, dataDir, ownsData, token, opts });
    } catch (e) {
      lastError = e;
      // Someone took the port between freePort() and listen(): try another.
      if (!(e instanceof Error && /EADDRINUSE/.test(e.message))) break;
    }
  }
  if (ownsData) await rm(dataDir, { recursive: true, force: true });
  throw lastError;
}

async function launch(a: {
  port: number;
  logFile: string;
  dataDir: string;
  ownsData: boolean;
  token: string;
  opts: StartOptions;
}): Promise<RunningServer> {
  const log = createWriteStream(a.logFile);
  const proc = spawn(
    process.execPath,
    ['bin/packyard.mjs', 'serve', ...(a.opts.storage ? ['--storage', a.opts.storage] : ['--data', a.dataDir]), '--host', '127.0.0.1', '--port', String(a.port)],
    {
      cwd: repoRoot,
      env: { ...process.env, ...a.opts.env, PACKYARD_ADMIN_TOKEN: a.token },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  running.add(proc);
  proc.stdout!.pipe(log, { end: false });
  proc.stderr!.pipe(log, { end: false });
  const exited = new Promise<ExitInfo>((resolve) => {
    proc.once('exit', (code, signal) => {
      running.delete(proc);
      resolve({ code, signal });
    });
  });
  // Close the log only after both pipes have drained into it.
  void exited.then(() => setTimeout(() => log.end(), 50));

  const url = `http://127.0.0.1:${a.port}`;
  const logTail = async (bytes = 4000) => {
    const text = await readFile(a.logFile, 'utf8').catch(() => '');
    return text.length > bytes ? '…' + text.slice(-bytes) : text;
  };
  const waitExit = async (ms: number): Promise<ExitInfo | undefined> => {
    let cancel = () => {};
    const timeout = new Promise<undefined>((r) => {
      const t = setTimeout(r, ms);
      cancel = () => clearTimeout(t);
    });
    try {
      return await Promise.race([exited, timeout]);
    } finally {
      cancel();
    }
  };

  const deadline = Date.now() + (a.opts.readyTimeoutMs ?? 30_000);
  let early: ExitInfo | undefined;
  void exited.then((x) => (early = x));
  for (;;) {
    if (early) {
      throw new Error(`packyard serve exited (code ${early.code}, signal ${early.signal}) before /healthz was ready.\nLog ${a.logFile}:\n${await logTail()}`);
    }
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      await exited;
      throw new Error(`packyard serve did not answer 200 on /healthz in time.\nLog ${a.logFile}:\n${await logTail()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  const kill = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    return exited;
  };
  return {
    url,
    port: a.port,
    token: a.token,
    dataDir: a.dataDir,
    logFile: a.logFile,
    proc,
    kill,
    logTail,
    stop: async ({ keepData = false } = {}) => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const info = (await waitExit(10_000)) ?? (await kill('SIGKILL'));
      if (a.ownsData && !keepData) await rm(a.dataDir, { recursive: true, force: true });
      return info;
    },
  };
}

// ---------------------------------------------------------------------------------------
// API client

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    what: string,
  ) {
    super(`${what}: HTTP ${status}: ${body.slice(0, 2000)}`);
    this.name = 'ApiError';
  }
}

export interface Api {
  /** Raw request with the token (if any) as a Bearer header; for tests of error answers. */
  fetch(pathAndQuery: string, init?: RequestInit): Promise<Response>;
  /**
   * POST /api/v1/repos {"name","type":"deb","public"}. Public unless asked otherwise: most tests
   * are about serving, and test/e2e/access.test.ts is about private repositories. Throws ApiError unless 2xx.
   */
  createRepo(name: string, options?: { public?: boolean }): Promise<unknown>;
  /** POST /api/v1/repos/<repo>/packages?distribution=&component= with one multipart `file` field per file. */
  upload(repo: string, dist: string, comp: string, files: readonly string[]): Promise<unknown>;
  /** GET /<repo>/public.gpg: the binary public key for signed-by=. */
  publicKey(repo: string): Promise<Uint8Array>;
}

export function api(url: string, token?: string): Api {
  const call = (p: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (token !== undefined && !headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
    return fetch(url + p, { ...init, headers });
  };
  const json = async (res: Response, what: string) => {
    const body = await res.text();
    if (!res.ok) throw new ApiError(res.status, body, what);
    try {
      return JSON.parse(body) as unknown;
    } catch {
      return body;
    }
  };
  return {
    fetch: call,
    createRepo: async (name, options = {}) =>
      json(
        await call('/api/v1/repos', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name, type: 'deb', public: options.public ?? true }),
        }),
        `create repo ${name}`,
      ),
    upload: async (repo, dist, comp, files) => {
      const form = new FormData();
      // openAsBlob streams from disk: the test process does not hold the packages in memory.
      for (const f of files) form.append('file', await openAsBlob(f), path.basename(f));
      const q = new URLSearchParams({ distribution: dist, component: comp });
      return json(
        await call(`/api/v1/repos/${encodeURIComponent(repo)}/packages?${q}`, { method: 'POST', body: form }),
        `upload to ${repo}`,
      );
    },
    publicKey: async (repo) => {
      const res = await call(`/${encodeURIComponent(repo)}/public.gpg`);
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (!res.ok) throw new ApiError(res.status, new TextDecoder().decode(bytes), `public key of ${repo}`);
      return bytes;
    },
  };
}

/** The sources.list line for a Packyard repository; pair it with the key at the signed-by path. */
export function aptLine(url: string, repo: string, dist: string, comp: string): string {
  return `deb [signed-by=/etc/apt/keyrings/${repo}.gpg] ${url}/${repo} ${dist} ${comp}`;
}
