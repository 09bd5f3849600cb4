// The Worker host refuses before the body too: an upload without a credential that may publish
// is answered at once in real workerd though its body never ends, and the isolate goes on serving (an
// upload is streamed on to its repository's Durable Object: one that answered without reading
// the body would leave the Worker streaming it after the answer, which workerd refuses).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { api } from '../helpers/server.js';
import { startWorker, startWorkerd, type RunningWorker } from '../helpers/worker.js';

describe.each([
  ['wrangler dev over R2', startWorker],
  ['workerd on-prem over a directory', startWorkerd],
])('the Worker host and unauthenticated uploads: %s', (_, start: () => Promise<RunningWorker>) => {
  let worker: RunningWorker;

  beforeAll(async () => {
    worker = await start();
    await api(worker.url, worker.token).createRepo('acme');
  }, 120_000);

  afterAll(async () => {
    await worker?.stop();
  });

  it('refuses whole bodies sent with a bad token, and the isolate keeps serving', async () => {
    const client = api(worker.url, worker.token);
    for (let i = 0; i < 3; i++) {
      const refused = await api(worker.url, 'wrong').fetch('/api/v1/repos/acme/packages?distribution=stable', { method: 'POST', body: 'x'.repeat(200_000) });
      expect(refused.status).toBe(401);
      const next = await client.fetch('/api/v1/repos/acme', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(next.status, await next.text()).toBe(200);
    }
    expect(await worker.logTail(100_000)).not.toContain('Uncaught');
  });

  for (const [what, authorization] of [
    ['without a token', ''],
    ['with a wrong token', 'Authorization: Bearer wrong\r\n'],
    ['with a token for another repository', 'TOKEN'],
  ] as const) {
    it(`answers an upload ${what} at once, before reading its body, and keeps serving`, async () => {
      const client = api(worker.url, worker.token);
      let header: string = authorization;
      if (header === 'TOKEN') {
        const res = await client.fetch('/api/v1/tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'other', repos: { other: ['write'] } }) });
        header = `Authorization: Bearer ${((await res.json()) as { token: string }).token}\r\n`;
      }
      const { hostname, port } = new URL(worker.url);
      const socket = net.connect({ host: hostname, port: Number(port) });
      let received = '';
      socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
      socket.on('error', () => {});
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(`POST /api/v1/repos/acme/packages?distribution=stable HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n${header}\r\nx`);
      const timer = setInterval(() => socket.write('x'), 200);
      try {
        const started = performance.now();
        while (!received.includes('\r\n\r\n') && performance.now() - started < 3000) await new Promise((r) => setTimeout(r, 20));
        expect(received).toMatch(what.includes('another') ? /^HTTP\/1\.1 403 / : /^HTTP\/1\.1 401 /);
      } finally {
        clearInterval(timer);
        socket.destroy();
      }
      // The isolate is still there: the next write is served, not a 503 "worker restarted".
      await new Promise((r) => setTimeout(r, 300));
      const next = await client.fetch('/api/v1/repos/acme', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(next.status, await next.text()).toBe(200);
    });
  }
});
