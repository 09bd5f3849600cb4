// RPM uploads built to cost the server more than their size, sent to a real `packyard serve`: each
// must be refused with a 422 naming what is wrong, soon, while the server keeps answering others
// (the header is read on the request thread, so slow reading there would stall every request).
// Packages over a repodata limit (src/formats/rpm/limits.ts) are refused the same way.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { overLimitRpms, overlappingStringsRpm } from '../helpers/rpms.js';
import { startServer, type RunningServer } from '../helpers/server.js';

let server: RunningServer;
const admin = () => ({ authorization: `Bearer ${server.token}` });
const UPLOAD = '/api/v1/repos/yum/packages?distribution=el9';

beforeAll(async () => {
  server = await startServer();
  const created = await fetch(`${server.url}/api/v1/repos`, {
    method: 'POST',
    headers: { ...admin(), 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'yum', type: 'rpm', distributions: { el9: {} } }),
  });
  expect(created.status, await created.clone().text()).toBe(201);
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

/** Uploads `bytes` as a raw body while /healthz is asked every 20 ms; the answer, how long it took, and the slowest /healthz. */
async function uploadWhileProbing(bytes: Uint8Array<ArrayBuffer>) {
  let done = false;
  let slowest = 0;
  const probe = (async () => {
    while (!done) {
      const start = performance.now();
      const res = await fetch(`${server.url}/healthz`);
      await res.arrayBuffer();
      expect(res.status).toBe(200);
      slowest = Math.max(slowest, performance.now() - start);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const start = performance.now();
  const res = await fetch(server.url + UPLOAD, { method: 'POST', headers: { ...admin(), 'content-type': 'application/x-rpm' }, body: bytes });
  const body = (await res.json()) as { error?: { code: string; message: string } };
  const took = performance.now() - start;
  done = true;
  await probe;
  return { status: res.status, error: body.error, took, slowest };
}

test('string arrays that all claim the same 8 MiB of NUL bytes: 422 at once, /healthz answers throughout', { timeout: 120_000 }, async () => {
  const r = await uploadWhileProbing(overlappingStringsRpm(48, 8 * 1024 * 1024) as Uint8Array<ArrayBuffer>);
  expect(r.status).toBe(422);
  expect(r.error?.code, r.error?.message).toBe('overlapping-data');
  expect(r.took).toBeLessThan(3000);
  expect(r.slowest).toBeLessThan(500);
});

test.each(overLimitRpms().map((c) => [c.name, c] as const))('over a repodata limit, %s: 422 naming the limit', { timeout: 60_000 }, async (_, { bytes, code }) => {
  const r = await uploadWhileProbing((await bytes()) as Uint8Array<ArrayBuffer>);
  expect(r.status).toBe(422);
  expect(r.error?.code, r.error?.message).toBe(code);
  expect(r.error?.message).toMatch(/the limit (of|for)/);
  expect(r.slowest).toBeLessThan(500);
});

test('nothing refused was published', async () => {
  const res = await fetch(`${server.url}/api/v1/repos/yum/packages?distribution=el9`, { headers: admin() });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ packages: [] });
});
