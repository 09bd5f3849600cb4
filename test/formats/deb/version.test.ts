// compareVersions is checked against the real `dpkg --compare-versions` on thousands of
// generated pairs. dpkg is started once per comparison (~2 ms), so the pairs go to two
// shell loops running side by side rather than one spawn per pair from node.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PackyardError } from '../../../src/util/errors.js';
import { compareVersions, parseVersion } from '../../../src/formats/deb/version.js';
import { runOk } from '../../helpers/exec.js';
import { prng } from '../../helpers/random.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'packyard-version-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const rnd = prng(20240601);
const digits = rnd.digits;
const word = rnd.letters;

/** A run of version characters; `extra` adds the separators allowed only in some places. */
function part(extra: string): string {
  let s = '';
  for (let i = rnd.int(5); i >= 0; i--) {
    const r = rnd.next();
    if (r < 0.4) s += digits();
    else if (r < 0.65) s += word();
    else s += rnd.pick([...('.+~^' + extra)]);
  }
  return s;
}

function version(): string {
  const epoch = rnd.next() < 0.3 ? `${rnd.pick(['0', '1', '2', '01', '10'])}:` : '';
  // dpkg only warns about a leading letter, so compare-versions still orders such versions.
  const first = rnd.next() < 0.9 ? digits() : word();
  const upstream = first + part(epoch ? ':' : '');
  if (rnd.next() < 0.5) return epoch + upstream;
  return `${epoch}${upstream}${rnd.next() < 0.2 ? `-${part('')}` : ''}-${digits()}${part('')}`;
}

/** A close relative of v: the interesting comparisons are between near-equal versions. */
function mutate(v: string): string {
  switch (rnd.int(8)) {
    case 0:
      return v;
    case 1:
      return v.replace(/[0-9]+/, (d) => `0${d}`);
    case 2:
      return v + rnd.pick(['~', '~rc1', '+b1', '.0', 'a', '^1', '-0', '-1']);
    case 3:
      return v.includes(':') ? v.replace(/^[0-9]+:/, '') : `0:${v}`;
    case 4: {
      const i = 1 + rnd.int(Math.max(1, v.length - 1));
      return v.slice(0, i) + rnd.pick(['0', '9', 'a', 'Z', '~', '.', '+']) + v.slice(i + 1);
    }
    case 5:
      return v.replace(/[0-9]+(?!.*[0-9])/, (d) => String(BigInt(d) + 1n));
    case 6:
      return v.replace(/~/, '');
    default:
      return version();
  }
}

/** True when dpkg itself would take the string (mutations can produce a trailing '-', etc.). */
function dpkgParses(v: string): boolean {
  try {
    compareVersions(v, v);
    return true;
  } catch {
    return false;
  }
}

async function dpkgCompare(pairs: [string, string][]): Promise<string[]> {
  // Prints lt/eq/gt per pair; "error" if dpkg rejected a version (exit status 2).
  const script = `
    while IFS='\t' read -r a b; do
      dpkg --compare-versions "$a" lt "$b" 2>/dev/null; r=$?
      if [ $r = 0 ]; then echo lt
      elif [ $r != 1 ]; then echo error
      elif dpkg --compare-versions "$a" eq "$b" 2>/dev/null; then echo eq
      else echo gt; fi
    done < "$1"`;
  const half = Math.ceil(pairs.length / 2);
  const chunks = [pairs.slice(0, half), pairs.slice(half)];
  const outputs = await Promise.all(
    chunks.map(async (chunk, i) => {
      const file = path.join(dir, `pairs-${i}.tsv`);
      await writeFile(file, chunk.map(([a, b]) => `${a}\t${b}\n`).join(''));
      return (await runOk('sh', ['-c', script, 'sh', file], { timeoutMs: 60_000 })).stdout.trim().split('\n');
    }),
  );
  return outputs.flat();
}

describe('compareVersions', () => {
  test('orders examples from Debian policy and dpkg', () => {
    const ascending = [
      '~~', '~~a', '~', '0', '0.0', '0.1', '1.0~rc1', '1.0', '1.0-0.1', '1.0-1', '1.0a', '1.0+',
      '1.0+b1', '1.0.1', '1.1', '1.10', '2', '18446744073709551615', '18446744073709551616', '1:0', '1:0.1',
    ];
    for (let i = 1; i < ascending.length; i++) {
      expect(compareVersions(ascending[i - 1]!, ascending[i]!), `${ascending[i - 1]} < ${ascending[i]}`).toBe(-1);
      expect(compareVersions(ascending[i]!, ascending[i - 1]!)).toBe(1);
    }
    for (const [a, b] of [['1.00', '1.0'], ['1.0-0', '1.0'], ['0:1.0', '1.0'], ['01:1', '1:1'], ['1.0-00', '1.0-0']]) {
      expect(compareVersions(a!, b!), `${a} = ${b}`).toBe(0);
    }
  });

  test('agrees with dpkg --compare-versions on 4000 generated pairs', async () => {
    const pairs: [string, string][] = [];
    while (pairs.length < 4000) {
      const a = version();
      const b = rnd.next() < 0.3 ? version() : mutate(a);
      if (dpkgParses(a) && dpkgParses(b)) pairs.push(rnd.next() < 0.5 ? [a, b] : [b, a]);
    }
    const expected = await dpkgCompare(pairs);
    expect(expected).toHaveLength(pairs.length);
    const sign = { lt: -1, eq: 0, gt: 1 } as Record<string, number>;
    const mismatches = pairs
      .map(([a, b], i) => ({ a, b, dpkg: expected[i]!, ours: compareVersions(a, b) }))
      .filter((r) => sign[r.dpkg] !== r.ours);
    expect(mismatches.slice(0, 10)).toEqual([]);
    // The generator must really exercise all three outcomes and the tricky characters.
    for (const outcome of ['lt', 'eq', 'gt']) expect(expected.filter((e) => e === outcome).length).toBeGreaterThan(300);
    for (const ch of [':', '~', '^', '+', '-', '.']) expect(pairs.some(([a]) => a.includes(ch))).toBe(true);
  });
});

describe('parseVersion', () => {
  test('splits epoch, upstream and revision', () => {
    expect(parseVersion('2:9.0.1378-2+deb12u2')).toEqual({ epoch: 2, upstream: '9.0.1378', revision: '2+deb12u2' });
    expect(parseVersion('1:2:3-a-b')).toEqual({ epoch: 1, upstream: '2:3-a', revision: 'b' });
    expect(parseVersion('1.0~rc1')).toEqual({ epoch: 0, upstream: '1.0~rc1', revision: '' });
  });

  // Everything here makes dpkg print an error or a warning, and dpkg -i refuses warnings too.
  const invalid = [
    '', ' ', '1.0-', ':1.0', '1:', 'a:1.0', '-1:1.0', '1.0:2', '1 0', '99999999999:1', 'abc', '-1', 'a1.0',
    '1.0_1', '1.0-1_2', '1.0-1:2', '1.0^1', '1.0-a~b^', 'é1', '1.0é', '1.0/2', '1:-1', '1.0--',
  ];

  test.each(invalid)('rejects %j', (v) => {
    let error: unknown;
    try {
      parseVersion(v);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PackyardError);
    expect((error as PackyardError).code).toBe('invalid-version');
  });

  test('dpkg complains about each rejected version too', async () => {
    // dpkg reads an empty argument as "no version" rather than as a version, so it is left out;
    // the version goes last so that "-1" is not taken for an option.
    const args = invalid.filter((v) => v !== '');
    const script = `for v in "$@"; do dpkg --compare-versions 1 eq "$v" 2>&1 >/dev/null | grep -q 'bad syntax' && echo bad || echo ok; done`;
    const r = await runOk('sh', ['-c', script, 'sh', ...args]);
    expect(r.stdout.trim().split('\n')).toEqual(args.map(() => 'bad'));
  });
});
