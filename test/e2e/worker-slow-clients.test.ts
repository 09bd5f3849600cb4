// The Worker host gets the shared app's refusal before the body: an upload without a valid
// credential is answered 401 at once in real workerd, though its body never ends (it would be
// streamed on to the repository's Durable Object first).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { api } from '../helpers/server.js';
import { startWorkerd, type RunningWorker } from '../helpers/worker.js';

let worker: RunningWorker;

beforeAll(async () => {
  worker = await startWorkerd();
  await api(worker.url, worker.token).createRepo('acme');
}, 120_000);

afterAll(async () => {
  await worker?.stop();
});

describe('the Worker host and slow clients', () => {
  for (const authorization of ['', 'Authorization: Bearer wrong\r\n']) {
    it(`answers an upload ${authorization ? 'with a wrong token' : 'without a token'} 401 before reading its body`, async () => {
      const { hostname, port } = new URL(worker.url);
      const socket = net.connect({ host: hostname, port: Number(port) });
      let received = '';
      socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
      socket.on('error', () => {});
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(`POST /api/v1/repos/acme/packages?distribution=stable HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n${authorization}\r\nx`);
      const timer = setInterval(() => socket.write('x'), 200);
      try {
        const started = performance.now();
        while (!received.includes('\r\n\r\n') && performance.now() - started < 3000) await new Promise((r) => setTimeout(r, 20));
        expect(received).toMatch(/^HTTP\/1\.1 401 /);
      } finally {
        clearInterval(timer);
        socket.destroy();
      }
    });
  }
});
