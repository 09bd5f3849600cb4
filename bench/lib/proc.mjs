// Processes, temporary directories and cleanup. Everything a benchmark starts is registered
// here and stopped on exit, on Ctrl-C and on errors.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * Inputs, kept repositories, results and work directories. BENCH_DIR moves them all to another
 * filesystem (tools that index in place need inputs and work on one filesystem for `cp -al`).
 */
export const CACHE = process.env.BENCH_DIR ? resolve(process.env.BENCH_DIR) : join(ROOT, '.cache/bench');
export const PACKYARD = join(ROOT, 'bin/packyard.mjs');

/** Every child process still running: stopped by cleanup(). */
const children = new Set();
const dirs = new Set();
const cleanups = [];

/** A fresh directory under CACHE/work, removed at exit. */
export function tempDir(name) {
  mkdirSync(join(CACHE, 'work'), { recursive: true });
  const dir = mkdtempSync(join(CACHE, 'work', `${name}-`));
  dirs.add(dir);
  return dir;
}

/** Runs a synchronous cleanup step at exit (e.g. stopping a gpg-agent). */
export function atExit(fn) {
  cleanups.push(fn);
}

/** Stops what is still running: SIGTERM (nginx's master then stops its worker), SIGKILL after 0.5 s. */
export function cleanup() {
  const signal = (sig) => {
    for (const child of children) {
      try {
        process.kill(child.pid, sig);
      } catch {}
    }
  };
  if (children.size) {
    signal('SIGTERM');
    spawnSync('sleep', ['0.5']);
    signal('SIGKILL');
  }
  children.clear();
  for (const fn of cleanups.splice(0)) {
    try {
      fn();
    } catch {}
  }
  if (!process.env.BENCH_KEEP) for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    cleanup();
    process.exit(130);
  });
}

/** Runs a command to completion; rejects on a non-zero exit with its stderr. Resolves with output and wall time. */
export function run(cmd, args, { env, cwd, input, quiet = true } = {}) {
  return new Promise((resolveRun, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      if (!quiet) process.stderr.write(d);
    });
    if (input !== undefined) child.stdin.end(input);
    children.add(child);
    child.on('error', reject);
    child.on('close', (code) => {
      children.delete(child);
      const ms = performance.now() - started;
      if (code === 0) resolveRun({ stdout, stderr, ms });
      else reject(new Error(`${cmd} ${args.slice(0, 6).join(' ')}${args.length > 6 ? ' ...' : ''} exited ${code}:\n${stderr.slice(-2000)}${stdout.slice(-1000)}`));
    });
  });
}

/** Starts a long-running process, stopped at exit; `child.output()` is the tail of its stdout+stderr. */
export function daemon(cmd, args, { env, cwd } = {}) {
  const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d) => (output = (output + d).slice(-20000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  children.add(child);
  child.on('exit', () => children.delete(child));
  child.output = () => output;
  child.stop = () =>
    new Promise((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', () => done());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    });
  return child;
}

export function freePort() {
  return new Promise((done, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/** Waits until `url` answers (any HTTP status), or the process dies, or 30 s pass. */
export async function waitForHttp(url, child) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`server exited ${child.exitCode} before answering:\n${child.output()}`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(2000) });
      return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${url} did not answer within 30 s:\n${child?.output() ?? ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** VmRSS and VmHWM of a process, in bytes (null once it is gone). */
export function memory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)[1]) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return null;
  }
}

/** Copies a directory tree (cp -a), e.g. a prepared repository each run starts from. */
export function copyTree(from, to) {
  const r = spawnSync('cp', ['-a', from, to]);
  if (r.status !== 0) throw new Error(`cp -a ${from} ${to}: ${r.stderr}`);
}
