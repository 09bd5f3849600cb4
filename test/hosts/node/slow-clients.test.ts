// Slow and idle clients against a real `packyard serve`: an unauthenticated upload is answered
// 401 before its body is read, connections that trickle their headers are closed at the header
// timeout, one address holds only so many unauthenticated connections, and while 2,000 slow
// connections are open, /healthz and InRelease still answer at once. An authenticated upload
// may still take its time, as long as it keeps sending.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDeb } from '../../helpers/debs.js';
import { api, startServer, type RunningServer } from '../../helpers/server.js';

const HEADER_TIMEOUT_S = 6;
const IDLE_TIMEOUT_S = 3;
const CAP = 64;

let server: RunningServer;
let debDir: string;
const sockets = new Set<net.Socket>();
const timers = new Set<NodeJS.Timeout>();

beforeAll(async () => {
  debDir = await mkdtemp(join(tmpdir(), 'packyard-slow-'));
  server = await startServer({
    env: { PACKYARD_HEADER_TIMEOUT: String(HEADER_TIMEOUT_S), PACKYARD_IDLE_TIMEOUT: String(IDLE_TIMEOUT_S), PACKYARD_MAX_ANONYMOUS_CONNECTIONS: String(CAP) },
  });
  const client = api(server.url, server.token);
  await client.createRepo('acme');
  await client.upload('acme', 'stable', 'main', [(await buildDeb({ name: 'hello', version: '1.0', arch: 'all' }, debDir)).path]);
});

afterAll(async () => {
  for (const timer of timers) clearInterval(timer);
  for (const socket of sockets) socket.destroy();
  await server?.stop();
});

/** A raw connection from `localAddress` (any of 127.0.0.0/8), with what it received and when it closed. */
interface Conn {
  socket: net.Socket;
  received(): string;
  /** Resolves when the server closed the connection (or reset it). */
  closed: Promise<void>;
  isClosed(): boolean;
}

function connect(localAddress: string): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: server.port, localAddress });
    sockets.add(socket);
    let data = '';
    let closedNow = false;
    const closed = new Promise<void>((done) =>
      socket.once('close', () => {
        closedNow = true;
        sockets.delete(socket);
        done();
      }),
    );
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, received: () => data, closed, isClosed: () => closedNow }));
    socket.once('error', reject);
  });
}

/** Writes `byte` every `ms` to each connection until it closes (one timer for all: the test process must stay quick too). */
function trickle(conns: Conn[], ms: number, byte = 'a'): void {
  const timer = setInterval(() => {
    for (const conn of conns) if (!conn.isClosed()) conn.socket.write(byte);
  }, ms);
  timers.add(timer);
}

/** Resolves once the server's answer to `conn` has come up to its body. */
async function answered(conn: Conn): Promise<void> {
  while (!conn.received().includes('\r\n\r\n')) await new Promise((r) => setTimeout(r, 20));
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms))]);
}

/** Milliseconds of each of `count` GETs of `path` over one kept-alive connection from 127.0.0.1. */
async function latencies(path: string, count: number): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const out: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      const status = await new Promise<number>((resolve, reject) => {
        http.get(`${server.url}${path}`, { agent }, (res) => res.resume().once('end', () => resolve(res.statusCode!))).once('error', reject);
      });
      out.push(performance.now() - started);
      expect(status, path).toBe(200);
    }
  } finally {
    agent.destroy();
  }
  return out;
}

const uploadHead = (length: number, token?: string) =>
  `POST /api/v1/repos/acme/packages?distribution=stable HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.debian.binary-package\r\nContent-Length: ${length}\r\n${token ? `Authorization: Bearer ${token}\r\n` : ''}\r\n`;

describe('slow clients', () => {
  it('answers an unauthenticated upload 401 before reading its body, and closes the connection', async () => {
    const conn = await connect('127.0.0.2');
    conn.socket.write(uploadHead(100_000_000) + 'x');
    trickle([conn], 200);
    await within(answered(conn), 1000, 'the 401');
    expect(conn.received()).toMatch(/^HTTP\/1\.1 401 /);
    await within(conn.closed, 2000, 'closing the connection');
  });

  it(`keeps /healthz and InRelease under 50 ms with 2,000 slow connections open, then closes them at the header timeout`, async () => {
    // 40 addresses with 50 connections each: under the per-address cap, so all 2,000 stay open.
    const conns: Conn[] = [];
    for (let a = 0; a < 40; a++) {
      const batch = await Promise.all(Array.from({ length: 50 }, () => connect(`127.0.1.${a + 1}`)));
      for (const conn of batch) conn.socket.write('GET /acme/dists/stable/InRelease HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      conns.push(...batch);
    }
    trickle(conns, 1000);
    // The client's first request loads and warms its own HTTP code: not the server's time.
    await latencies('/healthz', 2);
    const health = await latencies('/healthz', 20);
    const inRelease = await latencies('/acme/dists/stable/InRelease', 20);
    expect(conns.filter((c) => c.isClosed())).toHaveLength(0);
    // Two cores shared with other work: the 90th percentile must be under 50 ms, and no answer stalls.
    for (const [what, ms] of [['healthz', health], ['InRelease', inRelease]] as const) {
      const sorted = [...ms].sort((a, b) => a - b);
      expect(sorted[17], `${what} ms: ${ms.map(Math.round)}`).toBeLessThan(50);
      expect(sorted[19], `${what} ms: ${ms.map(Math.round)}`).toBeLessThan(500);
    }
    await within(Promise.all(conns.map((c) => c.closed)), (HEADER_TIMEOUT_S + 4) * 1000, 'closing the slow connections');
    expect(conns.filter((c) => !c.received().startsWith('HTTP/1.1 408 '))).toHaveLength(0);
  }, 30_000);

  it('closes connections of one address past the cap, and no longer counts one that authenticated', async () => {
    const conns = await Promise.all(Array.from({ length: CAP + 10 }, () => connect('127.0.0.3')));
    await new Promise((r) => setTimeout(r, 500));
    expect(conns.filter((c) => c.isClosed())).toHaveLength(10);
    const open = conns.filter((c) => !c.isClosed());
    const authed = open[0]!;
    authed.socket.write(`GET /api/v1/repos HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\n\r\n`);
    await within(answered(authed), 2000, 'the authenticated answer');
    expect(authed.received()).toMatch(/^HTTP\/1\.1 200 /);
    const another = await connect('127.0.0.3');
    const refused = await connect('127.0.0.3');
    await new Promise((r) => setTimeout(r, 300));
    expect(another.isClosed()).toBe(false);
    expect(refused.isClosed()).toBe(true);
    for (const conn of [...conns, another]) conn.socket.destroy();
  });

  it('lets an authenticated upload send a chunk a second for longer than the header timeout', async () => {
    const deb = await readFile((await buildDeb({ name: 'slow', version: '1.0', arch: 'all', files: { 'usr/share/slow/data': 'y'.repeat(20_000) } }, debDir)).path);
    const conn = await connect('127.0.0.4');
    conn.socket.write(uploadHead(deb.length, server.token));
    const chunks = HEADER_TIMEOUT_S + 3;
    const size = Math.ceil(deb.length / chunks);
    for (let i = 0; i < chunks; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      expect(conn.isClosed(), `closed before chunk ${i}`).toBe(false);
      conn.socket.write(deb.subarray(i * size, (i + 1) * size));
    }
    await within(
      (async () => {
        while (!/\r\n\r\n[\s\S]*\}/.test(conn.received())) await new Promise((r) => setTimeout(r, 20));
      })(),
      5000,
      'the answer',
    );
    expect(conn.received()).toMatch(/^HTTP\/1\.1 201 /);
    conn.socket.destroy();
  }, 30_000);

  it('closes an authenticated upload that stops sending for longer than the idle timeout', async () => {
    const conn = await connect('127.0.0.5');
    conn.socket.write(uploadHead(1_000_000, server.token) + 'x'.repeat(1000));
    await within(conn.closed, (IDLE_TIMEOUT_S + 2) * 1000, 'closing the stalled upload');
  }, 15_000);
});
