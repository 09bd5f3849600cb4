// `packyard copy`, `packyard rollback` and `packyard snapshots diff` as users run them, on a data directory.
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDeb } from '../helpers/debs.js';
import { buildRpm } from '../helpers/rpms.js';
import { repoRoot, run } from '../helpers/exec.js';

const cli = (args: string[]) => run('node', [join(repoRoot, 'bin/packyard.mjs'), ...args], { timeoutMs: 120_000 });

let work: string;
const packages: Record<'deb' | 'rpm', { path: string; version: string; arch: string; other: string }> = {} as never;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'packyard-cli-lifecycle-'));
  const [deb, rpm] = await Promise.all([buildDeb({ name: 'foo', version: '1.2', arch: 'amd64' }, join(work, 'deb')), buildRpm({ name: 'foo', version: '1.2', release: '1', arch: 'x86_64' }, join(work, 'rpm'))]);
  packages.deb = { path: deb.path, version: '1.2', arch: 'amd64', other: 'arm64' };
  packages.rpm = { path: rpm.path, version: '1.2-1', arch: 'x86_64', other: 'aarch64' };
}, 120_000);

describe.each(['deb', 'rpm'] as const)('packyard copy, rollback, snapshots diff (%s)', (type) => {
  it('promotes testing to stable, shows the diff, rolls back, and explains refusals', async () => {
    const p = packages[type];
    const data = join(work, `data-${type}`);
    const at = ['--data', data];
    const added = await cli(['add', '--create', ...at, '--repo', 'acme', '--distribution', 'testing', '--json', p.path]);
    expect(added.code, added.stderr).toBe(0);
    const before = JSON.parse(added.stdout).snapshot.id as string;

    // The repository has no `stable` yet: a copy there is taken for a typo unless asked for.
    const typo = await cli(['copy', ...at, '--from', 'testing', '--to', 'stable', 'acme', `foo=${p.version}`]);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(/^packyard: repository acme has no distribution "stable" \(its distributions: testing\): did you mean testing\?/);
    expect(typo.stderr).not.toMatch(/at .*\.js/);
    const wrongArch = await cli(['copy', ...at, '--from', 'testing', '--to', 'stable', '--create-distribution', '--arch', p.other, 'acme', `foo=${p.version}`]);
    expect(wrongArch.code).toBe(1);
    expect(wrongArch.stderr).toContain(`not in acme/testing: foo ${p.version} (${p.other}); nothing was copied`);
    const badSpec = await cli(['copy', ...at, '--from', 'testing', '--to', 'stable', 'acme', 'foo']);
    expect(badSpec.code).toBe(1);
    expect(badSpec.stderr).toContain('give each package as NAME=VERSION');

    const copied = await cli(['copy', ...at, '--from', 'testing', '--to', 'stable', '--create-distribution', '--arch', p.arch, 'acme', `foo=${p.version}`]);
    expect(copied.code, copied.stderr).toBe(0);
    expect(copied.stdout).toMatch(new RegExp(`^Copied foo ${p.version} \\(${p.arch}\\) from testing to stable; published snapshot \\S+\\.\\n$`));
    const listed = JSON.parse((await cli(['ls', ...at, '--repo', 'acme', '--json'])).stdout) as { distribution: string; package: string }[];
    expect(listed.map((r) => `${r.distribution}:${r.package}`).sort()).toEqual(['stable:foo', 'testing:foo']);

    const diff = await cli(['snapshots', 'diff', ...at, '--repo', 'acme', before]);
    expect(diff.code, diff.stderr).toBe(0);
    expect(diff.stdout).toBe(`stable/${type === 'deb' ? 'main/' : ''}${p.arch}\t+ foo ${p.version}\n`);
    const diffJson = JSON.parse((await cli(['snapshots', 'diff', ...at, '--repo', 'acme', '--json', before])).stdout);
    expect(diffJson.places[0].added).toEqual([{ package: 'foo', version: p.version, architecture: p.arch }]);

    const rolledBack = await cli(['rollback', ...at, '--json', 'acme', before]);
    expect(rolledBack.code, rolledBack.stderr).toBe(0);
    expect(JSON.parse(rolledBack.stdout).snapshot.changes).toEqual([{ action: 'rollback', snapshot: before }]);
    const after = JSON.parse((await cli(['ls', ...at, '--repo', 'acme', '--json'])).stdout) as { distribution: string }[];
    expect(after.map((r) => r.distribution)).toEqual(['testing']);
    const history = JSON.parse((await cli(['snapshots', ...at, '--repo', 'acme', '--json'])).stdout) as { changes: { action: string }[] }[];
    expect(history.slice(0, 2).map((s) => s.changes[0]!.action)).toEqual(['rollback', 'add']);
    // As text: what was rolled back to, and where the copy came from.
    const shown = (await cli(['snapshots', ...at, '--repo', 'acme', '--limit', '2'])).stdout.split('\n');
    expect(shown[0]).toMatch(new RegExp(`\\trollback to ${before}$`));
    expect(shown[1]).toMatch(new RegExp(`\\tadd foo ${p.version.replace(/[.+]/g, '\\$&')} in stable from testing$`));
    const missing = await cli(['rollback', ...at, 'acme', '00000042-00000000']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^packyard: repository acme has no snapshot 00000042-00000000/);
  }, 120_000);
});

it('has --help for copy, rollback and snapshots diff', async () => {
  for (const command of [['copy'], ['rollback'], ['snapshots', 'diff']]) {
    const r = await cli([...command, '--help']);
    expect(r.code, command.join(' ')).toBe(0);
    expect(r.stdout).toMatch(/^Usage: packyard/);
  }
});
