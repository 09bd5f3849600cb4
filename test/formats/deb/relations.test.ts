// Relationship fields are checked in one pass: no input makes the check slower than linear.
import { describe, expect, it } from 'vitest';
import { parseControl } from '../../../src/formats/deb/control.js';
import { checkRelations } from '../../../src/formats/deb/relations.js';
import { PackyardError } from '../../../src/util/errors.js';

const control = (depends: string) => parseControl(new TextEncoder().encode(`Package: p\nVersion: 1\nArchitecture: all\nDepends: ${depends}\nDescription: d\n`));

describe('relationship fields', () => {
  it('reads what dpkg reads', () => {
    expect(() => checkRelations(control('libc6 (>= 2.36), foo:any | bar (<< 1:2.0-1), baz ( = 3 ), qux:amd64(>>1)'))).not.toThrow();
    for (const bad of ['foo (', 'foo (>= 1', 'foo (>= 1) x', 'foo bar', '(>= 1)', 'foo (=> 1)']) {
      expect(() => checkRelations(control(bad)), bad).toThrow(PackyardError);
    }
  });

  it('refuses runs of whitespace in linear time (a regular expression took minutes)', () => {
    for (const hostile of [`a (${' '.repeat(100_000)}x y)`, `${' '.repeat(100_000)}(`, `a${' '.repeat(100_000)}b`]) {
      const started = performance.now();
      expect(() => checkRelations(control(hostile))).toThrow(PackyardError);
      expect(performance.now() - started).toBeLessThan(200);
    }
  });
});
