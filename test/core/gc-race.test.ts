// gc beside publishes on the Node host's backends (the Worker's R2 runs the same scenario inside
// workerd: test/hosts/worker/gc-race.test.ts): hundreds of gc runs against hundreds of publishes.
import { describe, expect, it } from 'vitest';
import { createNodeHasher } from '../../src/hosts/node/hasher.js';
import type { GcTiming } from '../../src/core/gc-protocol.js';
import { emptyBackend, type BackendName } from '../helpers/backends.js';
import { raceDebs } from '../helpers/debs.js';
import { runGcRace } from '../helpers/gc-race.js';
import { testSigner } from '../helpers/service.js';

// The protocol's times shortened so that objects age past them while the test runs. The workerd
// disk service dates objects to the whole second (HTTP Last-Modified): its times are longer.
const plans: [BackendName, { timing: GcTiming; publishes: number; minGcRuns: number }][] = [
  ['memory', { timing: { minGraceMs: 400, settleMs: 40 }, publishes: 120, minGcRuns: 100 }],
  ['filesystem', { timing: { minGraceMs: 400, settleMs: 40 }, publishes: 120, minGcRuns: 100 }],
  ['workerd disk service', { timing: { minGraceMs: 6000, settleMs: 1200 }, publishes: 25, minGcRuns: 10 }],
];

describe.each(plans)('gc beside publishes on %s storage', (backend, plan) => {
  it('never deletes what a head references', { timeout: 240_000 }, async () => {
    const result = await runGcRace({ storage: await emptyBackend(backend), signer: await testSigner(), createHasher: createNodeHasher, files: await raceDebs(), ...plan });
    expect(result.problems).toEqual([]);
    expect(result.gcRuns).toBeGreaterThanOrEqual(plan.minGcRuns);
    expect(result.deleted).toBeGreaterThan(0);
    // Some publishes relied on objects older than half the grace period, and touched them.
    expect(result.touches).toBeGreaterThan(0);
    // A publish is refused only when gc took its upload, which it may only once the upload is
    // older than the grace period.
    expect(result.refusedYoung).toEqual([]);
    expect(result.served).toBeGreaterThan(3);
  });
});
