// gc beside publishes on the Worker: the race scenario of test/helpers/gc-race.ts run inside
// workerd (through Miniflare) on its R2 binding, bundled as wrangler bundles the Worker.
import path from 'node:path';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { afterAll, expect, it } from 'vitest';
import type { RaceResult } from '../../helpers/gc-race.js';
import { raceDebs } from '../../helpers/debs.js';

const fixture = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures/gc-race-worker.ts');
let mf: Miniflare | undefined;
afterAll(() => mf?.dispose());

it('gc never deletes what a head references, on R2 in workerd', { timeout: 240_000 }, async () => {
  const bundle = await build({ entryPoints: [fixture], bundle: true, format: 'esm', platform: 'browser', conditions: ['workerd', 'worker', 'browser'], write: false, logLevel: 'silent' });
  mf = new Miniflare({ modules: true, script: bundle.outputFiles[0]!.text, compatibilityDate: '2025-09-01', r2Buckets: ['BUCKET'], r2Persist: false });
  const files = Object.fromEntries([...(await raceDebs())].map(([key, bytes]) => [key, Buffer.from(bytes).toString('base64')]));
  const res = await mf.dispatchFetch('http://worker/race', { method: 'POST', body: JSON.stringify({ timing: { minGraceMs: 2000, settleMs: 200 }, publishes: 60, files }) });
  const result = (await res.json()) as RaceResult & { error?: string };
  expect(result.error).toBeUndefined();
  expect(result.problems).toEqual([]);
  expect(result.gcRuns).toBeGreaterThanOrEqual(50);
  expect(result.deleted).toBeGreaterThan(0);
  expect(result.touches).toBeGreaterThan(0);
  // Refused only when gc took an upload older than the grace period (test/helpers/gc-race.ts).
  expect(result.refusedYoung).toEqual([]);
  expect(result.served).toBeGreaterThan(3);
});
