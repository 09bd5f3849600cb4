// The Worker host in real workerd, as a child process with the same shape as the Node server's
// helper: under `wrangler dev` (local R2 and Durable Objects persisted in a temporary directory),
// or under workerd alone with the on-prem configuration.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cacheDir, repoRoot } from './exec.js';
import { freePort } from './server.js';

export interface RunningWorker {
  url: string;
  token: string;
  stop(): Promise<void>;
  logTail(bytes?: number): Promise<string>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

export interface StartedWorkerd extends RunningWorker {
  /** The directory the workerd disk service serves. */
  data: string;
}

/** `wrangler dev`: the Worker over local R2, as `npm run dev:worker` runs it; `/__scheduled` fires its cron. */
export async function startWorker(options: { vars?: Record<string, string> } = {}): Promise<RunningWorker> {
  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  const state = await mkdtemp(path.join(os.tmpdir(), 'packyard-worker-'));
  const wrangler = path.join(repoRoot, 'node_modules/.bin/wrangler');
  const args = ['dev', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', state, '--var', `PACKYARD_ADMIN_TOKEN:${token}`, '--show-interactive-dev-session=false', '--log-level', 'log', '--test-scheduled', ...Object.entries(options.vars ?? {}).flatMap(([k, v]) => ['--var', `${k}:${v}`])];
  return launch('wrangler-dev', wrangler, args, { WRANGLER_SEND_METRICS: 'false', CI: '1', NO_COLOR: '1' }, port, token, state);
}

/**
 * workerd itself with the shipped on-prem configuration (deploy/workerd/packyard.capnp) over a
 * data directory: the built dist/worker.mjs, as an air-gapped site runs it. With `env` (such as
 * PACKYARD_STORAGE and AWS_* for a bucket) set in its environment; with `allowLocal`, its
 * outbound network also reaches this machine (the test S3 server listens on 127.0.0.1), as the
 * configuration's comment tells a site to do.
 */
export async function startWorkerd(options: { data?: string; env?: Record<string, string>; allowLocal?: boolean } = {}): Promise<StartedWorkerd> {
  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  const data = options.data ?? (await mkdtemp(path.join(os.tmpdir(), 'packyard-workerd-')));
  const workerd = path.join(repoRoot, 'node_modules/.bin/workerd');
  const shipped = path.join(repoRoot, 'deploy/workerd/packyard.capnp');
  // Beside the shipped file, so that its relative `embed` of the bundle still resolves.
  const config = options.allowLocal ? path.join(repoRoot, `deploy/workerd/.test-${port}.capnp`) : shipped;
  if (options.allowLocal) {
    const text = await readFile(shipped, 'utf8');
    const edited = text.replace('allow = ["public", "private"]', 'allow = ["public", "private", "local"]');
    if (edited === text) throw new Error(`${shipped}: no outbound allow list to extend`);
    await writeFile(config, edited);
  }
  const args = ['serve', config, '--directory-path', `data=${data}`, '--socket-addr', `http=127.0.0.1:${port}`];
  try {
    const started = await launch('workerd', workerd, args, { PACKYARD_ADMIN_TOKEN: token, ...options.env }, port, token, options.data ? undefined : data);
    return { ...started, data };
  } finally {
    // workerd has read its configuration once it answers (or failed to).
    if (config !== shipped) await rm(config, { force: true });
  }
}

async function launch(name: string, command: string, args: string[], env: Record<string, string>, port: number, token: string, scratch: string | undefined): Promise<RunningWorker> {
  const logDir = path.join(cacheDir, 'logs');
  await mkdir(logDir, { recursive: true });
  const logFile = path.join(logDir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}-${port}.log`);
  const log = createWriteStream(logFile);
  const proc = spawn(command, args, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running.add(proc);
  proc.stdout!.pipe(log);
  proc.stderr!.pipe(log);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const logTail = async (bytes = 4000) => (await readFile(logFile, 'utf8')).slice(-bytes);
  const stop = async () => {
    if (proc.exitCode === null) {
      // wrangler starts workerd as its own child: end the whole process group.
      process.kill(-proc.pid!, 'SIGTERM');
      const timer = setTimeout(() => process.kill(-proc.pid!, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    running.delete(proc);
    if (scratch) await rm(scratch, { recursive: true, force: true });
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${name} exited with ${proc.exitCode}:\n${await logTail()}`);
    const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (ok) return { url, token, stop, logTail };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${name} did not answer /healthz in 90 s:\n${await logTail()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
