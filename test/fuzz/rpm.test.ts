// Fuzzing the .rpm reader (lead, signature and main headers, the record built from them) with
// mutations of a package rpmbuild built: bytes flipped, cut, moved; header intros with other
// entry counts and store sizes; index entries with other tags, types, offsets and counts; and
// headers assembled from random tags of every type. Each case must give a valid record or a 4xx
// PackyardError, within the time bound, and while the bytes stream in the reader must hold no
// more memory than it was given. Settings and replay: test/helpers/fuzz.ts.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RpmInspector, type RpmInfo } from '../../src/formats/rpm/inspect.js';
import { SIGTAG, TAG } from '../../src/formats/rpm/header.js';
import { concat } from '../helpers/bytes.js';
import { assembleRpm, buildRpm, minimalHeader, rpmLayout, type HeaderTags, type TagData } from '../helpers/rpms.js';
import { EDGE_NUMBERS, chunkSplits, fuzzRuns, mutateAll, mutation, pushWithinMemory, refusal } from '../helpers/fuzz.js';

let real: Uint8Array;
let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'packyard-fuzz-rpm-'));
  const built = await buildRpm(
    {
      name: 'fuzz',
      version: '1.2',
      release: '3',
      epoch: 1,
      requires: ['libfoo >= 1:2.0-3', 'libc.so.6(GLIBC_2.34)(64bit)', '/etc/fuzz.conf'],
      provides: ['fuzz-virtual = 5.0'],
      recommends: ['fuzz-docs'],
      files: { '/usr/bin/fuzz': '#!/bin/sh\n', '/etc/fuzz.conf': 'x = 1\n' },
      dirs: ['/usr/share/fuzz'],
      ghosts: ['/var/log/fuzz.log'],
      changelog: [
        { date: 1_700_000_000, author: 'A <a@example.org> - 1.2-3', text: '- two' },
        { date: 1_700_000_000, author: 'B <b@example.org>   ', text: '- one' },
      ],
    },
    workDir,
  );
  real = new Uint8Array(await readFile(built.path));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** Feeds the inspector in the given chunks, its memory bounded by what it was given. */
function inspect(bytes: Uint8Array, splits: readonly number[]): RpmInfo {
  const inspector = new RpmInspector();
  pushWithinMemory((chunk) => inspector.push(chunk), bytes, splits);
  return inspector.finish();
}

async function expectValidOrRefused(bytes: Uint8Array, splits: readonly number[]): Promise<void> {
  let info: RpmInfo | undefined;
  await refusal('RpmInspector', () => {
    info = inspect(bytes, splits);
  });
  if (info) {
    expect(info.name).toMatch(/^[A-Za-z0-9_%][A-Za-z0-9._+%{}-]*$/);
    expect(info.name).not.toContain('..');
    expect(info.headerEnd).toBeGreaterThan(info.headerStart);
    expect(info.headerEnd).toBeLessThanOrEqual(bytes.length);
  }
}

describe('RpmInspector on mutated packages', () => {
  test('the unmutated packages are read, in any chunks', () => {
    for (const splits of [[], [0, 0, 0], [95, 16, 1]]) {
      expect(inspect(real, splits).name).toBe('fuzz');
      expect(inspect(assembleRpm({ header: minimalHeader() }), splits).name).toBe('tiny');
    }
  });

  test('arbitrary bytes, bare or behind a real lead and header magic', async () => {
    const prefix = fc.constantFrom(0, 96, 96 + 8, 96 + 16);
    await fc.assert(
      fc.asyncProperty(prefix, fc.uint8Array({ maxLength: 3000 }), chunkSplits(), async (keep, rest, splits) => {
        await expectValidOrRefused(concat(real.subarray(0, keep), rest), splits);
      }),
      fuzzRuns(500, 1500),
    );
  });

  test('bytes flipped, inserted, cut, moved', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(mutation(), { minLength: 1, maxLength: 4 }), chunkSplits(), async (edits, splits) => {
        await expectValidOrRefused(mutateAll(real, edits), splits);
      }),
      fuzzRuns(500, 1500),
    );
  });

  test('header intros and index entries with other counts, sizes, offsets, types and tags', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(headerEdit(), { minLength: 1, maxLength: 4 }), chunkSplits(), async (edits, splits) => {
        await expectValidOrRefused(editHeaders(real, edits), splits);
      }),
      fuzzRuns(800, 1500),
    );
  });

  test('headers assembled from random tags of every type', async () => {
    await fc.assert(
      fc.asyncProperty(headerTags(), fc.option(headerTags(SIG_TAGS), { nil: undefined }), chunkSplits(), async (header, signature, splits) => {
        // With its own signature, SIZE is whatever the random tags say: the payload check gets its turn.
        await expectValidOrRefused(assembleRpm({ header, signature, payload: new Uint8Array(7) }), splits);
      }),
      fuzzRuns(800, 1500),
    );
  });
});

// ---- edits of the headers of a real package --------------------------------------------------

interface HeaderEdit {
  which: 'signature' | 'main';
  /** 'intro' edits the entry count (+8) or store size (+12); otherwise index entry `entry` % count. */
  target: { intro: 8 | 12 } | { entry: number; field: 0 | 4 | 8 | 12 };
  value: number;
}

function headerEdit(): fc.Arbitrary<HeaderEdit> {
  const value = fc.oneof(fc.constantFrom(...EDGE_NUMBERS, 1000, 1004, 1027, 1116, 1117, 1118, 6, 8, 9, 10, 11), fc.nat(), fc.nat({ max: 40_000 }));
  return fc.record({
    which: fc.constantFrom('signature' as const, 'main' as const),
    target: fc.oneof(fc.record({ intro: fc.constantFrom(8 as const, 12 as const) }), fc.record({ entry: fc.nat({ max: 200 }), field: fc.constantFrom(0 as const, 4 as const, 8 as const, 12 as const) })),
    value,
  });
}

function editHeaders(bytes: Uint8Array, edits: readonly HeaderEdit[]): Uint8Array {
  const out = bytes.slice();
  const layout = rpmLayout(bytes);
  const view = new DataView(out.buffer);
  for (const { which, target, value } of edits) {
    const start = which === 'signature' ? layout.signatureStart : layout.headerStart;
    if ('intro' in target) {
      view.setUint32(start + target.intro, value >>> 0);
    } else {
      const count = new DataView(bytes.buffer, bytes.byteOffset).getUint32(start + 8);
      view.setUint32(start + 16 + (target.entry % count) * 16 + target.field, value >>> 0);
    }
  }
  return out;
}

// ---- assembled headers -----------------------------------------------------------------------

const MAIN_TAGS = [...new Set(Object.values(TAG))];
const SIG_TAGS = [...new Set(Object.values(SIGTAG)), 1004, 62];

function tagData(): fc.Arbitrary<TagData> {
  const text = fc.oneof(fc.constantFrom('', 'tiny', '/usr/', 'f', 'libc.so.6(GLIBC_2.4)', 'rpmlib(X)', '1:2.0-3', ':', 'x:1', '..', 'a b', '(', ')'), fc.string({ maxLength: 12 }));
  const numbers = fc.array(fc.oneof(fc.constantFrom(0, 1, 2, 4, 8, 10, 12, 0o40755, 0o100644, 64, 1 << 27, 1 << 19), fc.nat()), { maxLength: 6 });
  return fc.oneof(
    fc.tuple(fc.constant('string' as const), text),
    fc.tuple(fc.constant('strings' as const), fc.array(text, { maxLength: 6 })),
    fc.tuple(fc.constant('i18n' as const), fc.array(text, { maxLength: 3 })),
    fc.tuple(fc.constant('int16' as const), numbers.map((ns) => ns.map((n) => n & 0xffff))),
    fc.tuple(fc.constant('int32' as const), numbers),
    fc.tuple(fc.constant('int64' as const), numbers),
    fc.tuple(fc.constant('bin' as const), fc.uint8Array({ maxLength: 16 })),
  );
}

/** A minimal header (so the record is often built) with random tags replacing or joining it. */
function headerTags(tags: readonly number[] = MAIN_TAGS): fc.Arbitrary<HeaderTags> {
  return fc
    .tuple(fc.boolean(), fc.uniqueArray(fc.tuple(fc.oneof(fc.constantFrom(...tags), fc.nat()), tagData()), { minLength: 1, maxLength: 10, selector: ([tag]) => tag }))
    .map(([base, extra]) => {
      const seen = new Set(extra.map(([tag]) => tag));
      // Each tag once: a duplicate is refused before anything else is looked at (editHeaders makes those).
      const kept = (base ? minimalHeader() : []).filter(([tag]) => !seen.has(tag));
      return [...kept, ...extra];
    });
}
