// The CLI's repository lifecycle: --keep-versions, --create-distribution, --remove-distribution,
// and `repo delete` asking (on a terminal) or needing --yes. Run as users run it, on a data directory.
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDeb, type DebFile } from '../helpers/debs.js';
import { buildRpm, type BuiltRpm } from '../helpers/rpms.js';
import { repoRoot, run } from '../helpers/exec.js';

const bin = join(repoRoot, 'bin/packyard.mjs');
const cli = (args: string[], input?: string) => run('node', [bin, ...args], { timeoutMs: 120_000, ...(input !== undefined ? { input } : {}) });

let work: string;
let debs: DebFile[];
let rpms: BuiltRpm[];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'packyard-cli-lifecycle-'));
  debs = await Promise.all(['1.0', '1.1', '1.2'].map((version) => buildDeb({ name: 'hello', version, arch: 'amd64' }, join(work, `deb-${version}`))));
  rpms = await Promise.all(['1.0', '1.1', '1.2'].map((version) => buildRpm({ name: 'hello', version, release: '1' }, join(work, `rpm-${version}`))));
}, 120_000);

const versions = async (data: string, repo: string, distribution: string) => {
  const listed = await cli(['ls', '--data', data, '--repo', repo, '--distribution', distribution, '--json']);
  expect(listed.code, listed.stderr).toBe(0);
  return (JSON.parse(listed.stdout) as { version: string }[]).map((p) => p.version).sort();
};

describe('packyard repository lifecycle', () => {
  for (const [type, files, v] of [
    ['deb', () => debs.map((d) => d.path), (x: string) => x],
    ['rpm', () => rpms.map((r) => r.path), (x: string) => `${x}-1`],
  ] as const) {
    it(`${type}: --keep-versions on create and update, --create-distribution, --remove-distribution`, async () => {
      const data = join(work, `data-${type}`);
      const created = await cli(['repo', 'create', 'acme', '--type', type, '--data', data, '--distribution', 'stable', '--keep-versions', '2', '--json']);
      expect(created.code, created.stderr).toBe(0);
      expect(JSON.parse(created.stdout).retention).toEqual({ keepVersions: 2 });
      for (const file of files()) {
        const added = await cli(['add', '--data', data, '--repo', 'acme', '--distribution', 'stable', file]);
        expect(added.code, added.stderr).toBe(0);
      }
      expect(await versions(data, 'acme', 'stable')).toEqual([v('1.1'), v('1.2')]);

      const typo = await cli(['add', '--data', data, '--repo', 'acme', '--distribution', 'stabel', files()[0]!]);
      expect(typo.code).toBe(1);
      expect(typo.stderr).toMatch(/^packyard: repository acme has no distribution "stabel" \(its distributions: stable\): did you mean stable\? .*\(404 distribution-not-found\)\n$/);
      const made = await cli(['add', '--data', data, '--repo', 'acme', '--distribution', 'testing', '--create-distribution', ...files()]);
      expect(made.code, made.stderr).toBe(0);
      expect(await versions(data, 'acme', 'testing')).toEqual([v('1.1'), v('1.2')]);

      const tighter = await cli(['repo', 'update', 'acme', '--data', data, '--keep-versions', '1']);
      expect(tighter.code, tighter.stderr).toBe(0);
      expect(tighter.stdout).toMatch(/keeps 1 version[,.]/);
      expect(await versions(data, 'acme', 'stable')).toEqual([v('1.2')]);
      expect(await versions(data, 'acme', 'testing')).toEqual([v('1.2')]);
      const off = await cli(['repo', 'update', 'acme', '--data', data, '--keep-versions', '0', '--json']);
      expect(off.code, off.stderr).toBe(0);
      expect(JSON.parse(off.stdout).retention).toBeUndefined();
      const bad = await cli(['repo', 'update', 'acme', '--data', data, '--keep-versions', 'two']);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/--keep-versions must be a whole number of versions, not "two"/);

      const removed = await cli(['repo', 'update', 'acme', '--data', data, '--remove-distribution', 'testing', '--json']);
      expect(removed.code, removed.stderr).toBe(0);
      expect(Object.keys(JSON.parse(removed.stdout).distributions)).toEqual(['stable']);
      const history = JSON.parse((await cli(['snapshots', '--data', data, '--repo', 'acme', '--json', '--limit', '1'])).stdout) as { changes: { action: string }[] }[];
      expect(history[0]!.changes.map((c) => c.action)).toEqual(['remove', 'settings']);
      const again = await cli(['repo', 'update', 'acme', '--data', data, '--remove-distribution', 'testing']);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/repository acme has no distribution "testing" \(404 distribution-not-found\)/);

      const fsck = await cli(['fsck', '--data', data, '--json']);
      expect(fsck.code, fsck.stderr).toBe(0);
      expect(JSON.parse(fsck.stdout)[0].problems).toEqual([]);
    });
  }

  it('repo delete needs --yes without a terminal, and on one the repository name typed', async () => {
    const data = join(work, 'data-delete');
    expect((await cli(['repo', 'create', 'acme', '--data', data])).code).toBe(0);
    const refused = await cli(['repo', 'delete', 'acme', '--data', data], '');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe('packyard: not deleting repository acme: confirm with --yes (there is no terminal to ask on)\n');
    // On a terminal (script(1) gives the command one): a wrong name keeps it, the right one deletes it.
    const onTty = (answer: string) => run('script', ['-qec', `node ${bin} repo delete acme --data ${data}`, '/dev/null'], { input: `${answer}\n`, timeoutMs: 120_000 });
    const wrong = await onTty('acne');
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toMatch(/Type the repository name to confirm: /);
    expect(wrong.stdout).toMatch(/not deleting repository acme: the name typed does not match/);
    expect(JSON.parse((await cli(['repo', 'list', '--data', data, '--json'])).stdout).map((r: { name: string }) => r.name)).toEqual(['acme']);
    const right = await onTty('acme');
    expect(right.code, right.stdout).toBe(0);
    expect(right.stdout).toMatch(/Deleted repository acme\./);
    expect(JSON.parse((await cli(['repo', 'list', '--data', data, '--json'])).stdout)).toEqual([]);

    expect((await cli(['repo', 'create', 'other', '--data', data])).code).toBe(0);
    const yes = await cli(['repo', 'delete', 'other', '--data', data, '--yes']);
    expect(yes.code, yes.stderr).toBe(0);
    expect(JSON.parse((await cli(['repo', 'list', '--data', data, '--json'])).stdout)).toEqual([]);
  });
});
