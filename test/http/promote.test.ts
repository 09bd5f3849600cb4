// Releasing in stages through the HTTP API, for APT and RPM repositories: copy and move between
// distributions (and from another repository), rollback to a snapshot (all distributions or one,
// re-signed now), and the diff between two snapshots.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { gc } from '../../src/core/gc.js';
import { fsck } from '../../src/core/fsck.js';
import { createNodeHasher } from '../../src/hosts/node/hasher.js';
import { buildDeb } from '../helpers/debs.js';
import { buildRpm } from '../helpers/rpms.js';
import { testApp } from '../helpers/app.js';
import { testSigner } from '../helpers/service.js';
import { run } from '../helpers/exec.js';

let work: string;
let keyring: string;
const files: Record<string, Uint8Array<ArrayBuffer>> = {};

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'packyard-lifecycle-'));
  keyring = join(work, 'keyring.gpg');
  await writeFile(keyring, (await testSigner()).publicKeyBinary);
  const [foo, bar, rfoo, rbar] = await Promise.all([
    buildDeb({ name: 'foo', version: '1.2', arch: 'amd64' }, join(work, 'deb')),
    buildDeb({ name: 'bar', version: '1.0', arch: 'all' }, join(work, 'deb')),
    buildRpm({ name: 'foo', version: '1.2', release: '1', arch: 'x86_64' }, join(work, 'rpm')),
    buildRpm({ name: 'bar', version: '1.0', release: '1' }, join(work, 'rpm')),
  ]);
  for (const [name, built] of Object.entries({ 'deb:foo': foo, 'deb:bar': bar, 'rpm:foo': rfoo, 'rpm:bar': rbar })) files[name] = new Uint8Array(await readFile(built.path));
}, 120_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const formats = [
  { type: 'deb', foo: { name: 'foo', version: '1.2', arch: 'amd64' }, bar: { name: 'bar', version: '1.0' }, otherArch: 'arm64', root: (d: string) => [`dists/${d}/InRelease`, `dists/${d}/Release`, `dists/${d}/Release.gpg`] },
  { type: 'rpm', foo: { name: 'foo', version: '1.2-1', arch: 'x86_64' }, bar: { name: 'bar', version: '1.0-1' }, otherArch: 'aarch64', root: (d: string) => [`${d}/x86_64/repodata/repomd.xml`, `${d}/x86_64/repodata/repomd.xml.asc`] },
] as const;

let checks = 0;
async function verifies(data: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const n = checks++;
  await writeFile(join(work, `data-${n}`), data);
  await writeFile(join(work, `data-${n}.sig`), signature);
  return (await run('gpgv', ['--keyring', keyring, join(work, `data-${n}.sig`), join(work, `data-${n}`)])).code === 0;
}

describe.each(formats)('lifecycle of a $type repository', (f) => {
  async function setup() {
    let clock = Date.now();
    const t = await testApp(() => new Date(clock));
    const tick = (ms = 60_000) => (clock += ms);
    const json = async (path: string, method = 'GET', body?: unknown) => {
      const res = await t.request(path, { method, ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    };
    // Debian's with component main (as `repo create --distribution` makes them), so apt can read them empty.
    const declared = f.type === 'deb' ? { components: ['main'] } : {};
    const create = async (name: string) => expect((await json('/api/v1/repos', 'POST', { name, type: f.type, distributions: { testing: declared, stable: declared } })).status).toBe(201);
    const upload = async (repo: string, which: 'foo' | 'bar', distribution = 'testing') => {
      const res = await t.request(`/api/v1/repos/${repo}/packages?distribution=${distribution}`, { method: 'POST', body: files[`${f.type}:${which}`] });
      expect(res.status, await res.clone().text()).toBe(201);
    };
    const text = async (repo: string, path: string) => {
      const res = await t.request(`/${repo}/${path}`);
      expect(res.status, path).toBe(200);
      return new Uint8Array(await res.arrayBuffer());
    };
    /** The package names a distribution lists for the architecture of `foo`, as clients read them. */
    const listed = async (repo: string, distribution: string): Promise<string[]> => {
      if (f.type === 'deb') {
        const packages = new TextDecoder().decode(await text(repo, `dists/${distribution}/main/binary-amd64/Packages`));
        return [...packages.matchAll(/^Package: (.+)$/gm)].map((m) => m[1]!).sort();
      }
      const repomd = new TextDecoder().decode(await text(repo, `${distribution}/x86_64/repodata/repomd.xml`));
      const primary = /<location href="(repodata\/[0-9a-f]+-primary\.xml\.gz)"/.exec(repomd)![1]!;
      const xml = gunzipSync(await text(repo, `${distribution}/x86_64/${primary}`)).toString();
      return [...xml.matchAll(/<name>([^<]+)<\/name>/g)].map((m) => m[1]!).sort();
    };
    const head = async (repo: string) => (await t.service.getRepo(repo)).id;
    // As kept by the gc runs below (none younger than the head, no generations).
    const fsckClean = async (repo: string) => expect((await fsck(t.service.store, createNodeHasher, repo, { retention: { graceMs: 0, generations: 0 } })).problems).toEqual([]);
    return { ...t, tick, json, create, upload, text, listed, head, fsckClean };
  }

  it('copies testing to stable (still in testing), moves, refuses missing packages and unknown distributions, diffs', async () => {
    const t = await setup();
    await t.create('acme');
    await t.upload('acme', 'foo');
    await t.upload('acme', 'bar');
    const before = await t.head('acme');

    const copy = await t.json('/api/v1/repos/acme/copy', 'POST', { from: 'testing', to: 'stable', packages: [{ name: f.foo.name, version: f.foo.version }] });
    expect(copy.status, JSON.stringify(copy.body)).toBe(201);
    expect(copy.body.packages.map((p: { package: string; distribution: string }) => [p.package, p.distribution])).toEqual([['foo', 'stable']]);
    expect(await t.listed('acme', 'stable')).toEqual(['foo']);
    expect(await t.listed('acme', 'testing')).toEqual(['bar', 'foo']);
    const history = (await t.json('/api/v1/repos/acme/snapshots?limit=1')).body.snapshots[0];
    expect(history.changes).toEqual([expect.objectContaining({ action: 'add', distribution: 'stable', package: 'foo', version: f.foo.version, from: { distribution: 'testing' } })]);
    // Within one repository the copy shares the pool's file: no bytes stored twice.
    const blobs = async () => {
      let n = 0;
      for await (const o of t.storage.list('repos/acme/blobs/')) n += o.size > 0 ? 1 : 0;
      return n;
    };
    expect(await blobs()).toBe(2);
    await t.fsckClean('acme');

    // Copied again: nothing changes.
    expect((await t.json('/api/v1/repos/acme/copy', 'POST', { from: 'testing', to: 'stable', packages: [{ name: 'foo', version: f.foo.version }] })).status).toBe(200);

    const afterCopy = await t.head('acme');
    const missing = await t.json('/api/v1/repos/acme/copy', 'POST', { from: 'testing', to: 'stable', packages: [{ name: 'bar', version: f.bar.version }, { name: 'nope', version: '9' }, { name: 'foo', version: '0.1' }] });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('package-not-found');
    expect(missing.body.error.message).toContain('nope 9');
    expect(missing.body.error.message).toContain('foo 0.1');
    const wrongArch = await t.json('/api/v1/repos/acme/copy', 'POST', { from: 'testing', to: 'stable', architecture: f.otherArch, packages: [{ name: 'foo', version: f.foo.version }] });
    expect(wrongArch.status).toBe(404);
    expect(wrongArch.body.error.message).toContain(`(${f.otherArch})`);
    const typo = await t.json('/api/v1/repos/acme/copy', 'POST', { from: 'testing', to: 'stabel', packages: [{ name: 'bar', version: f.bar.version }] });
    expect(typo.status).toBe(404);
    expect(typo.body.error.message).toContain('did you mean stable?');
    expect((await t.json('/api/v1/repos/acme/copy', 'POST', { from: 'testing', to: 'stable', packages: [] })).body.error.message).toMatch(/^packages: /);
    expect(await t.head('acme')).toBe(afterCopy);

    const created = await t.json('/api/v1/repos/acme/copy', 'POST', { from: 'testing', to: 'candidate', createDistribution: true, architecture: f.foo.arch, packages: [{ name: 'foo', version: f.foo.version }] });
    expect(created.status).toBe(201);
    expect(await t.listed('acme', 'candidate')).toEqual(['foo']);

    const moved = await t.json('/api/v1/repos/acme/copy', 'POST', { from: 'testing', to: 'stable', move: true, packages: [{ name: 'bar', version: f.bar.version }] });
    expect(moved.status).toBe(201);
    expect(await t.listed('acme', 'stable')).toEqual(['bar', 'foo']);
    expect(await t.listed('acme', 'testing')).toEqual(['foo']);
    await t.fsckClean('acme');

    const diff = await t.json(`/api/v1/repos/acme/diff?from=${before}&to=${afterCopy}`);
    expect(diff.status).toBe(200);
    expect(diff.body.places).toEqual([
      { distribution: 'stable', ...(f.type === 'deb' ? { component: 'main' } : {}), architecture: f.foo.arch, added: [{ package: 'foo', version: f.foo.version, architecture: f.foo.arch }], removed: [], changed: [] },
    ]);
    // To the head by default; the move shows as a removal from testing and an addition to stable.
    const sinceCopy = (await t.json(`/api/v1/repos/acme/diff?from=${afterCopy}`)).body.places as { distribution: string; added: unknown[]; removed: { package: string }[] }[];
    expect(sinceCopy.find((p) => p.distribution === 'testing')!.removed.map((r) => r.package)).toEqual(['bar']);
    expect((await t.json('/api/v1/repos/acme/diff?from=../../x')).status).toBe(400);
  });

  it('rolls back all distributions and one, re-signed with a fresh date; history keeps both', async () => {
    const t = await setup();
    await t.create('acme');
    await t.upload('acme', 'foo');
    const beforeCopy = await t.head('acme');
    const signedBefore = await Promise.all(f.root('testing').map((p) => t.text('acme', p)));
    t.tick();
    await t.json('/api/v1/repos/acme/copy', 'POST', { from: 'testing', to: 'stable', packages: [{ name: 'foo', version: f.foo.version }] });
    t.tick();
    await t.upload('acme', 'bar');
    expect(await t.listed('acme', 'stable')).toEqual(['foo']);
    expect(await t.listed('acme', 'testing')).toEqual(['bar', 'foo']);
    const targetLists = (await t.service.store.snapshot('acme', beforeCopy))!.lists;

    t.tick();
    const stableOnly = await t.json('/api/v1/repos/acme/rollback', 'POST', { snapshot: beforeCopy, distribution: 'stable' });
    expect(stableOnly.status, JSON.stringify(stableOnly.body)).toBe(201);
    expect(stableOnly.body.snapshot.changes).toEqual([{ action: 'rollback', snapshot: beforeCopy, distribution: 'stable' }]);
    expect(await t.listed('acme', 'stable')).toEqual([]);
    expect(await t.listed('acme', 'testing')).toEqual(['bar', 'foo']);
    await t.fsckClean('acme');

    t.tick();
    const all = await t.json('/api/v1/repos/acme/rollback', 'POST', { snapshot: beforeCopy });
    expect(all.status).toBe(201);
    const head = await t.service.getRepo('acme');
    expect(head.lists).toEqual(targetLists);
    expect(await t.listed('acme', 'testing')).toEqual(['foo']);
    await t.fsckClean('acme');

    // The indexes are the target's; the roots are signed anew, dated now.
    const signed = await Promise.all(f.root('testing').map((p) => t.text('acme', p)));
    expect(signed[0]).not.toEqual(signedBefore[0]);
    const rootText = new TextDecoder().decode(signed[f.type === 'deb' ? 1 : 0]);
    if (f.type === 'deb') {
      expect(Date.parse(/^Date: (.+)$/m.exec(rootText)![1]!)).toBe(Math.floor(Date.parse(head.createdAt) / 1000) * 1000);
      expect(await verifies(signed[1]!, signed[2]!)).toBe(true);
      const { code } = await run('gpgv', ['--keyring', keyring, await writeTemp(signed[0]!)]);
      expect(code).toBe(0);
      const index = (text: string) => text.split('\n').filter((l) => l.includes('binary-')).join('\n');
      expect(index(rootText)).toEqual(index(new TextDecoder().decode(signedBefore[1]!)));
    } else {
      expect(rootText).toContain(`<revision>${Math.floor(Date.parse(head.createdAt) / 1000)}</revision>`);
      expect(await verifies(signed[0]!, signed[1]!)).toBe(true);
      const locations = (xml: string) => [...xml.matchAll(/<location href="([^"]+)"/g)].map((m) => m[1]);
      expect(locations(rootText)).toEqual(locations(new TextDecoder().decode(signedBefore[0]!)));
    }

    const history = (await t.json('/api/v1/repos/acme/snapshots?limit=10')).body.snapshots as { changes: { action: string; from?: unknown }[] }[];
    expect(history.map((s) => s.changes[0]!.action)).toEqual(['rollback', 'rollback', 'add', 'add', 'add', 'create'].slice(0, history.length));
    expect(history[3]!.changes[0]!.from).toEqual({ distribution: 'testing' });

    expect((await t.json('/api/v1/repos/acme/rollback', 'POST', { snapshot: '00000099-00000000' })).status).toBe(404);
    expect((await t.json('/api/v1/repos/acme/rollback', 'POST', { snapshot: beforeCopy, distribution: 'nightly' })).status).toBe(404);
    expect((await t.json('/api/v1/repos/acme/rollback', 'POST', { snapshot: '../x' })).body.error.message).toMatch(/^snapshot: /);
  });

  it('refuses (409) a rollback to a snapshot whose files gc collected, publishing nothing', async () => {
    const t = await setup();
    await t.create('acme');
    await t.upload('acme', 'foo');
    const withFoo = await t.head('acme');
    const removed = await t.request(`/api/v1/repos/acme/packages/foo/${f.foo.version}/${f.foo.arch}?distribution=testing`, { method: 'DELETE' });
    expect(removed.status).toBe(200);
    for (const d of ['testing', 'stable']) await t.upload('acme', 'bar', d);
    const report = await gc(t.service.store, 'acme', { retention: { graceMs: 10 * 60_000, generations: 0 }, now: Date.now() + 3600_000 });
    expect(report.deleted.objects).toBeGreaterThan(0);
    await t.fsckClean('acme');
    const head = await t.head('acme');
    const refused = await t.json('/api/v1/repos/acme/rollback', 'POST', { snapshot: withFoo });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('snapshot-collected');
    expect(await t.head('acme')).toBe(head);
    await t.fsckClean('acme');
  });

  it('copies from another repository: the file is its own, so gc of the source never breaks it', async () => {
    const t = await setup();
    await t.create('dev');
    await t.create('prod');
    await t.upload('dev', 'foo');
    const copy = await t.json('/api/v1/repos/prod/copy', 'POST', { fromRepo: 'dev', from: 'testing', to: 'stable', packages: [{ name: 'foo', version: f.foo.version }] });
    expect(copy.status, JSON.stringify(copy.body)).toBe(201);
    const history = (await t.json('/api/v1/repos/prod/snapshots?limit=1')).body.snapshots[0];
    expect(history.changes[0].from).toEqual({ distribution: 'testing', repo: 'dev' });
    expect((await t.json('/api/v1/repos/prod/copy', 'POST', { fromRepo: 'dev', from: 'testing', to: 'stable', move: true, packages: [{ name: 'foo', version: f.foo.version }] })).status).toBe(400);

    // The source drops it and collects it.
    const removed = await t.request(`/api/v1/repos/dev/packages/foo/${f.foo.version}/${f.foo.arch}?distribution=testing`, { method: 'DELETE' });
    expect(removed.status).toBe(200);
    for (const d of ['testing', 'stable']) await t.upload('dev', 'bar', d);
    expect((await gc(t.service.store, 'dev', { retention: { graceMs: 10 * 60_000, generations: 0 }, now: Date.now() + 3600_000 })).deleted.objects).toBeGreaterThan(0);
    await t.fsckClean('dev');
    await t.fsckClean('prod');
    expect(await t.listed('prod', 'stable')).toEqual(['foo']);
    const poolPath = (await t.service.listPackages('prod'))[0]!.filename;
    const served = await t.text('prod', f.type === 'deb' ? poolPath : `stable/x86_64/${poolPath}`);
    expect(Buffer.from(served).equals(Buffer.from(files[`${f.type}:foo`]!))).toBe(true);

    const other = f.type === 'deb' ? 'rpm' : 'deb';
    expect((await t.json('/api/v1/repos', 'POST', { name: 'other', type: other, distributions: { testing: {} } })).status).toBe(201);
    const mixed = await t.json('/api/v1/repos/prod/copy', 'POST', { fromRepo: 'other', from: 'testing', to: 'stable', packages: [{ name: 'foo', version: '1' }] });
    expect(mixed.status).toBe(400);
    expect(mixed.body.error.code).toBe('type-mismatch');
  });
});

describe('lifecycle of a terraform repository', () => {
  it('says copy and rollback do not apply (400)', async () => {
    const t = await testApp();
    expect((await t.request('/api/v1/repos', { method: 'POST', body: JSON.stringify({ name: 'tf', type: 'terraform' }), headers: { 'content-type': 'application/json' } })).status).toBe(201);
    const head = (await t.service.getRepo('tf')).id;
    for (const [path, body] of [
      ['copy', { from: 'a', to: 'b', packages: [{ name: 'x', version: '1' }] }],
      ['rollback', { snapshot: head }],
    ] as const) {
      const res = await t.request(`/api/v1/repos/tf/${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not-supported');
    }
  });
});

async function writeTemp(data: Uint8Array): Promise<string> {
  const path = join(work, `inrelease-${checks++}`);
  await writeFile(path, data);
  return path;
}
