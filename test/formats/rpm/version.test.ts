// rpmvercmp and compareEvr against rpm itself on thousands of generated pairs. rpm starts in
// ~20 ms, so all pairs go to one `rpm --eval` whose Lua loop reads them from a file and prints
// rpm.vercmp() (versions) or the order of rpm.ver() objects (whole epoch:version-release).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compareEvr, rpmvercmp, type Evr } from '../../../src/formats/rpm/version.js';
import { runOk } from '../../helpers/exec.js';
import { prng } from '../../helpers/random.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'packyard-rpmvercmp-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const rnd = prng(20240917);
const digits = rnd.digits;
const letters = rnd.letters;

/** A version-like string; `separators` are the non-alphanumerics it may hold. */
function version(separators: string): string {
  let s = rnd.next() < 0.85 ? digits() : rnd.pick([letters(), '~', '^', '']);
  for (let i = rnd.int(6); i > 0; i--) {
    const r = rnd.next();
    if (r < 0.35) s += digits();
    else if (r < 0.6) s += letters();
    else s += rnd.pick([...separators]);
  }
  return s;
}

/** A close relative of v: the interesting comparisons are between near-equal versions. */
function mutate(v: string, separators: string): string {
  switch (rnd.int(9)) {
    case 0:
      return v;
    case 1:
      return v.replace(/[0-9]+/, (d) => `0${d}`);
    case 2:
      return v + rnd.pick(['~rc1', '^git2', '~', '^', '.1', 'a', '.0', '~~', '^^', '~^', '^~']);
    case 3:
      return v.slice(0, rnd.int(v.length + 1));
    case 4:
      return v.replace(/[^A-Za-z0-9]/, () => rnd.pick([...separators]));
    case 5:
      return v.replace(/[0-9]/, () => String(rnd.int(10)));
    case 6:
      return v.replace(/[a-z]/i, () => rnd.pick([...'aAzZ']));
    case 7:
      return `${v.slice(0, 2)}${rnd.pick([...separators])}${v.slice(2)}`;
    default:
      return version(separators);
  }
}

// `.` `_` `+` `%` `é` are plain separators to rpmvercmp() (rpm's ctype is ASCII-only), `~` and
// `^` are not. rpm.vercmp() in Lua parses its arguments as [epoch:]version[-release] first, so
// `-`, `:` and the empty string, which would change that split, stay out of what rpm is asked.
const SEPARATORS = '._+~^%é';
const askable = (v: string) => v !== '' && !/[-:]/.test(v);

/** rpm's answers for the pairs, from one process. */
async function askRpm(pairs: { kind: 'v' | 'evr'; a: string; b: string }[]): Promise<number[]> {
  const input = path.join(dir, 'pairs.tsv');
  await writeFile(input, pairs.map((p) => `${p.kind}\t${p.a}\t${p.b}\n`).join(''));
  // No `%` in the Lua: rpm would take it for a macro.
  const lua = `
    local out = {}
    for line in io.lines("${input}") do
      local t1 = line:find("\\t", 1, true)
      local t2 = line:find("\\t", t1 + 1, true)
      local kind, a, b = line:sub(1, t1 - 1), line:sub(t1 + 1, t2 - 1), line:sub(t2 + 1)
      local r
      if kind == "v" then
        r = rpm.vercmp(a, b)
      else
        local va, vb = rpm.ver(a), rpm.ver(b)
        if va < vb then r = -1 elseif va == vb then r = 0 else r = 1 end
      end
      out[#out + 1] = tostring(r)
    end
    print(table.concat(out, " "))
  `;
  const { stdout } = await runOk('rpm', ['--eval', `%{lua:${lua}}`]);
  const answers = stdout.trim().split(' ').map(Number);
  expect(answers).toHaveLength(pairs.length);
  return answers;
}

const evrText = (e: Evr) => `${e.epoch ? `${e.epoch}:` : ''}${e.version}-${e.release}`;

describe('rpmvercmp', () => {
  // From rpm's own test suite (tests/rpmvercmp.at) and its documentation of ~ and ^.
  const known: [string, string, number][] = [
    ['1.0', '1.0', 0],
    ['1.0', '2.0', -1],
    ['2.0.1', '2.0', 1],
    ['2.0.1a', '2.0.1', 1],
    ['5.5p10', '5.5p1', 1],
    ['10xyz', '10.1xyz', -1],
    ['xyz10', 'xyz10.1', -1],
    ['xyz.4', '8', -1],
    ['1.0aa', '1.0a', 1],
    ['010', '10', 0],
    ['1.0.', '1.0', 0],
    ['1_0', '1.0', 0],
    ['1.0', '1.0a', -1],
    ['1a', '1.0', -1],
    ['a', '1', -1],
    ['1.0~rc1', '1.0', -1],
    ['1.0~rc1', '1.0~rc2', -1],
    ['1.0~rc1~git123', '1.0~rc1', -1],
    ['~', '', -1],
    ['1.0^', '1.0', 1],
    ['1.0^git1', '1.0', 1],
    ['1.0^git1', '1.0.1', -1],
    ['1.0^git1', '1.0^git2', -1],
    ['1.0^git1~pre', '1.0^git1', -1],
    ['1.0^20160101^git1', '1.0^20160101', 1],
    ['1.0~rc1^git1', '1.0~rc1', 1],
    ['1.0^', '1.0~', 1],
    ['99999999999999999999999', '99999999999999999999998', 1],
  ];

  test('known cases, as the docs state them', () => {
    for (const [a, b, expected] of known) {
      expect(rpmvercmp(a, b), `${a} vs ${b}`).toBe(expected);
      expect(rpmvercmp(b, a), `${b} vs ${a}`).toBe(0 - expected);
    }
  });

  test('agrees with rpm on 6000 generated pairs and with rpm.ver on 3000 epoch:version-release pairs', async () => {
    const versions = known.map(([a, b]) => ({ a, b })).filter(({ a, b }) => askable(a) && askable(b));
    while (versions.length < 6000) {
      const a = version(SEPARATORS);
      const b = mutate(a, SEPARATORS);
      if (askable(a) && askable(b)) versions.push({ a, b });
    }
    const evrs: { a: Evr; b: Evr }[] = [];
    while (evrs.length < 3000) {
      const epoch = () => rnd.pick(['', '0', '1', '2', '01', '10']);
      const a = { epoch: epoch(), version: version(SEPARATORS) || '1', release: version(SEPARATORS) || '1' };
      const b = {
        epoch: rnd.next() < 0.7 ? a.epoch : epoch(),
        version: rnd.next() < 0.5 ? a.version : mutate(a.version, SEPARATORS) || '1',
        release: rnd.next() < 0.5 ? a.release : mutate(a.release, SEPARATORS) || '1',
      };
      evrs.push({ a, b });
    }
    const answers = await askRpm([
      ...versions.map(({ a, b }) => ({ kind: 'v' as const, a, b })),
      ...evrs.map(({ a, b }) => ({ kind: 'evr' as const, a: evrText(a), b: evrText(b) })),
    ]);
    const wrong: string[] = [];
    versions.forEach(({ a, b }, i) => {
      const ours = rpmvercmp(a, b);
      if (ours !== answers[i]) wrong.push(`rpmvercmp(${JSON.stringify(a)}, ${JSON.stringify(b)}) = ${ours}, rpm says ${answers[i]}`);
    });
    evrs.forEach(({ a, b }, i) => {
      const ours = compareEvr(a, b);
      const theirs = answers[versions.length + i];
      if (ours !== theirs) wrong.push(`compareEvr(${evrText(a)}, ${evrText(b)}) = ${ours}, rpm says ${theirs}`);
    });
    expect(wrong.slice(0, 20)).toEqual([]);
    // The generator must produce all three outcomes in quantity, or it tests little.
    for (const outcome of [-1, 0, 1]) expect(answers.filter((r) => r === outcome).length).toBeGreaterThan(500);
    expect(versions.filter(({ a, b }) => /[~^]/.test(a + b)).length).toBeGreaterThan(1500);
  });
});

describe('compareEvr', () => {
  test('epoch first, numerically; a missing epoch is 0', () => {
    expect(compareEvr({ epoch: '1', version: '1.0', release: '1' }, { epoch: '0', version: '9.0', release: '9' })).toBe(1);
    expect(compareEvr({ epoch: '10', version: '1', release: '1' }, { epoch: '9', version: '1', release: '1' })).toBe(1);
    expect(compareEvr({ epoch: '', version: '1', release: '1' }, { epoch: '0', version: '1', release: '1' })).toBe(0);
  });

  test('then version, then release', () => {
    expect(compareEvr({ epoch: '0', version: '1.0', release: '9' }, { epoch: '0', version: '1.1', release: '1' })).toBe(-1);
    expect(compareEvr({ epoch: '0', version: '1.0', release: '2.el9' }, { epoch: '0', version: '1.0', release: '10.el9' })).toBe(-1);
    expect(compareEvr({ epoch: '0', version: '1.0~rc1', release: '5' }, { epoch: '0', version: '1.0', release: '1' })).toBe(-1);
  });
});
