// The Worker under workerd with the on-prem configuration (deploy/workerd/packyard.capnp), and
// the CPU time a process has spent, read from /proc.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { ROOT, daemon, freePort } from './proc.mjs';

/** Cloudflare's CPU time per request: Free plan, and the paid plans' default limit. */
export const FREE_MS = 10;
export const PAID_MS = 30_000;

const WORKERD = join(ROOT, 'node_modules/.bin/workerd');
const WORKERD_CONFIG = join(ROOT, 'deploy/workerd/packyard.capnp');

/**
 * Starts workerd (the bundled dist/worker.mjs) over a data directory on a free loopback port;
 * resolves once its socket accepts connections, without sending a request, so the Worker's first
 * request is still to come. Stopped at exit like every daemon.
 */
export async function workerd(data) {
  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  // Signing key from the data directory (as `packyard add` made it), head cache at its default.
  const env = { PACKYARD_ADMIN_TOKEN: token, PACKYARD_SIGNING_KEY: undefined, PACKYARD_SIGNING_KEY_PASSPHRASE: undefined, PACKYARD_HEAD_TTL_MS: undefined };
  const child = daemon(WORKERD, ['serve', WORKERD_CONFIG, '--directory-path', `data=${data}`, '--socket-addr', `http=127.0.0.1:${port}`], { env, cwd: ROOT });
  await waitForPort(port, child);
  return { url: `http://127.0.0.1:${port}`, token, child, pid: child.pid, stop: () => child.stop() };
}

/** Waits until 127.0.0.1:port accepts a TCP connection (no HTTP request), or the process dies, or 60 s pass. */
async function waitForPort(port, child) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`workerd exited ${child.exitCode} before listening:\n${child.output()}`);
    const open = await new Promise((done) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        done(true);
      });
      socket.once('error', () => done(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`workerd did not listen on ${port} within 60 s:\n${child.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Nanoseconds on CPU of each thread of a process: the first field of
 * /proc/PID/task/TID/schedstat (user and system time, ns resolution).
 */
export function cpuSample(pid) {
  const threads = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      threads.set(tid, Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]));
    } catch {} // the thread ended meanwhile
  }
  return threads;
}

/**
 * Milliseconds on CPU between two samples, over all threads. A thread that ended in between
 * takes its last increment with it (counted in `lost`, so a caller can tell); one that started
 * counts in full.
 */
export function cpuDelta(before, after) {
  let ns = 0;
  for (const [tid, t] of after) ns += t - (before.get(tid) ?? 0);
  let lost = 0;
  for (const tid of before.keys()) if (!after.has(tid)) lost++;
  return { ms: ns / 1e6, lost };
}

/** Milliseconds on CPU since the process started (threads still running). */
export function cpuTotal(pid) {
  return cpuDelta(new Map(), cpuSample(pid)).ms;
}

/** CPU (ms, all workerd threads) and wall time (ms, as the client sees it) of `fn`. */
export async function measure(server, fn, settleMs = 0) {
  const before = cpuSample(server.pid);
  const started = performance.now();
  const result = await fn();
  const wall = performance.now() - started;
  if (settleMs) await new Promise((r) => setTimeout(r, settleMs));
  const { ms: cpu, lost } = cpuDelta(before, cpuSample(server.pid));
  if (lost) console.error(`${lost} workerd thread(s) ended during a measurement; their last CPU time is missing`);
  return { cpu, wall, result };
}
