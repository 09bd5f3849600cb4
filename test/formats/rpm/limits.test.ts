// What one package may put into repodata (src/formats/rpm/limits.ts): a package at every limit at
// once is read and its repodata loads in the real dnf, quickly; one step over any limit is refused
// with a 422 whose message names the limit.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { rpmLocation } from '../../../src/formats/rpm/ingest.js';
import { RpmInspector, type RpmInfo } from '../../../src/formats/rpm/inspect.js';
import { RPM_LIMITS } from '../../../src/formats/rpm/limits.js';
import type { RpmRecord } from '../../../src/formats/rpm/record.js';
import { buildRepodata } from '../../../src/formats/rpm/repodata.js';
import { createNodeHasher } from '../../../src/hosts/node/hasher.js';
import { webGzip } from '../../../src/util/codecs/compress.js';
import { packyardError } from '../../helpers/errors.js';
import { runOk } from '../../helpers/exec.js';
import { atLimitsRpm, nestedDependency, overLimitRpms } from '../../helpers/rpms.js';
import { testSigner } from '../../helpers/service.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'packyard-rpm-limits-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function inspect(bytes: Uint8Array): RpmInfo {
  const inspector = new RpmInspector();
  inspector.push(bytes);
  return inspector.finish();
}

function recordOf(bytes: Uint8Array): RpmRecord {
  const info = inspect(bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return { ...info, sha256, packageSize: bytes.length, location: rpmLocation(info), key: `test/${sha256}`, fileTime: 1_700_000_000 };
}

describe('a package at every limit', () => {
  let record: RpmRecord;
  beforeAll(() => {
    record = recordOf(atLimitsRpm());
  });

  test('is read whole', () => {
    expect(record.summary).toHaveLength(RPM_LIMITS.lineLength);
    expect(record.description).toHaveLength(RPM_LIMITS.textLength);
    expect(record.location.split('/').pop()).toHaveLength(255);
    expect(record.files).toHaveLength(RPM_LIMITS.files);
    expect(record.files.reduce((longest, f) => Math.max(longest, f.path.length), 0)).toBe(RPM_LIMITS.pathLength);
    expect(record.requires).toHaveLength(RPM_LIMITS.dependencies);
    expect(record.requires).toContainEqual({ name: nestedDependency(RPM_LIMITS.dependencyDepth) });
    expect(record.changelogs[0]!.text).toHaveLength(RPM_LIMITS.textLength);
  });

  test('has repodata the real dnf loads in seconds, with all its files and dependencies', { timeout: 300_000 }, async () => {
    const repo = path.join(dir, 'repo');
    const repodata = await buildRepodata([record], { gzip: webGzip, createHasher: createNodeHasher, signer: await testSigner(), now: () => new Date(1_700_000_000_000) });
    for (const f of repodata.files) {
      await mkdir(path.dirname(path.join(repo, f.path)), { recursive: true });
      await writeFile(path.join(repo, f.path), f.bytes);
    }
    const dnf = (args: string[]) =>
      runOk('dnf', ['--setopt=reposdir=/dev/null', `--repofrompath=r,file://${repo}`, '--repo=r', `--installroot=${path.join(dir, 'root')}`, '--releasever=12', '-q', ...args], { timeoutMs: 120_000 });
    const start = performance.now();
    const listed = await dnf(['repoquery', '--list', record.name]);
    const took = performance.now() - start;
    expect(listed.stdout.split('\n').filter(Boolean)).toHaveLength(RPM_LIMITS.files);
    const requires = await dnf(['-C', 'repoquery', '--requires', record.name]);
    expect(requires.stdout.split('\n').filter(Boolean)).toHaveLength(RPM_LIMITS.dependencies);
    // Measured here at about 5 s on a loaded machine; far from the minute 1,000,000 requires take.
    expect(took).toBeLessThan(60_000);
  });
});

describe('one step over a limit', () => {
  test.each(overLimitRpms().map((c) => [c.name, c] as const))('%s', async (_, { bytes, code }) => {
    const err = await packyardError(() => inspect(bytes() as Uint8Array));
    expect(err.code, err.message).toBe(code);
    expect(err.status).toBe(422);
    expect(err.message).toMatch(/the limit (of|for)/);
  });
});
