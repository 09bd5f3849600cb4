import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { MemoryStorage } from '../../../src/storage/memory.js';
import { readBytes, type ByteRange, type Storage } from '../../../src/storage/types.js';
import { RepositoryService } from '../../../src/core/service.js';
import { RepoStore } from '../../../src/core/store.js';
import { formats } from '../../../src/formats/index.js';
import { webGzip } from '../../../src/util/codecs/compress.js';
import { createNodeHasher } from '../../../src/hosts/node/hasher.js';
import { nodeGzip } from '../../../src/hosts/node/gzip.js';
import { renderPackages } from '../../../src/formats/deb/packages-index.js';
import type { DebRecord } from '../../../src/formats/deb/record.js';
import { buildPackagesFile, clearPartCache, memberTable, parseMemberTable, type MemberTable } from '../../../src/formats/deb/packages-file.js';
import type { Snapshot } from '../../../src/core/snapshot.js';

/** The `Packages` text rendered whole, shard by shard, as before parts were cached: what the parts must add up to. */
async function renderShards(store: RepoStore, own: Record<string, string>, all: Record<string, string>): Promise<string> {
  const parts: string[] = [];
  for (const shard of [...new Set([...Object.keys(own), ...Object.keys(all)])].sort()) {
    const ownRecords = own[shard] ? await store.meta<DebRecord[]>(own[shard]) : [];
    const allRecords = all[shard] ? await store.meta<DebRecord[]>(all[shard]) : [];
    const text = renderPackages(ownRecords, allRecords);
    if (text) parts.push(text);
  }
  return parts.join('\n');
}
import { buildDeb, type DebFile } from '../../helpers/debs.js';
import { fileUpload, testSigner } from '../../helpers/service.js';

const DIR = 'dists/stable/main/binary-amd64';
let debs: Record<string, DebFile>;

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'packyard-packages-file-'));
  const specs: [string, string, string][] = [
    ['apple', '1.0', 'amd64'],
    ['avocado', '2.0', 'amd64'],
    ['banana', '1.0', 'amd64'],
    ['cherry', '1.0', 'amd64'],
    ['cherry', '1.1', 'amd64'],
    ['libfoo1', '1.0', 'amd64'],
    ['libbar2', '1.0', 'amd64'],
    ['libfoo-common', '1.0', 'all'],
    ['cherry-doc', '1.0', 'all'],
    ['zebra', '1.0', 'amd64'],
    ['tool', '0.1', 'arm64'],
  ];
  debs = {};
  for (const [name, version, arch] of specs) debs[`${name}_${version}`] = await buildDeb({ name, version, arch, description: `${name} ${version}\nlong description of ${name}` }, join(dir, `${name}-${version}`));
});

/** Storage that records the ranges read of each key. */
class RecordingStorage extends MemoryStorage {
  ranges: [string, ByteRange | undefined][] = [];
  override get(key: string, range?: ByteRange) {
    this.ranges.push([key, range]);
    return super.get(key, range);
  }
}

interface Counting {
  service: RepositoryService;
  calls: () => number;
}

/** A service whose gzip counts its calls, as a fresh process would start (no cached parts) when `fresh`. */
async function countingService(storage: Storage, gzip = nodeGzip): Promise<Counting> {
  let calls = 0;
  const service = new RepositoryService({ formats, storage, signer: await testSigner(), createHasher: createNodeHasher, gzip: (data) => (calls++, gzip(data)), headTtlMs: 0 });
  return {
    service,
    calls: () => {
      const n = calls;
      calls = 0;
      return n;
    },
  };
}

/**
 * The published Packages and Packages.gz of a directory, checked against each other and against
 * rendering the lists whole. Only the `.gz` is stored; `Packages` names it, decompressed.
 */
async function checkPublished(storage: Storage, snapshot: Snapshot, dir = DIR): Promise<string> {
  const entry = snapshot.files[`${dir}/Packages`]!;
  expect(entry.encoding).toBe('gzip');
  expect(entry.key).toBe(snapshot.files[`${dir}/Packages.gz`]!.key);
  const gz = await readBytes(storage, snapshot.files[`${dir}/Packages.gz`]!.key);
  const packages = new Uint8Array(gunzipSync(gz!));
  expect(packages.length).toBe(entry.size);
  // The digests (hashed on from where the previous file's unchanged start ended) are the files' own.
  for (const [path, bytes] of [[`${dir}/Packages`, packages!], [`${dir}/Packages.gz`, gz!]] as const) {
    const entry = snapshot.files[path]!;
    for (const name of ['md5', 'sha1', 'sha256', 'sha512'] as const) expect(entry[name], `${name} of ${path}`).toBe(createHash(name).update(bytes).digest('hex'));
  }
  const arch = dir.slice(dir.lastIndexOf('binary-') + 7);
  const byArch = snapshot.lists.stable?.main ?? {};
  const whole = await renderShards(new RepoStore(storage), byArch[arch] ?? {}, byArch.all ?? {});
  expect(new TextDecoder().decode(packages!)).toBe(whole);
  return whole;
}

const upload = (service: RepositoryService, ...names: string[]) => Promise.all(names.map((n) => fileUpload(debs[n]!.path))).then((files) => service.upload('acme', files, { distribution: 'stable', component: 'main', actor: 'test' }));
const remove = (service: RepositoryService, name: string, version: string, architecture: string) => service.remove('acme', { distribution: 'stable', component: 'main', package: name, version, architecture }, 'test');

beforeEach(() => clearPartCache());

describe('Packages from cached per-shard parts', () => {
  it('a publish that changes one shard compresses one member, and Packages.gz inflates to Packages after every change', async () => {
    const storage = new MemoryStorage();
    const { service, calls } = await countingService(storage);
    await service.createRepo({ name: 'acme', type: 'deb', architectures: ['amd64'] }, 'test');
    calls();
    let { snapshot } = await upload(service, 'apple_1.0', 'banana_1.0', 'cherry_1.0', 'libfoo1_1.0', 'libfoo-common_1.0', 'zebra_1.0');
    // Shards a, b, c, libf, z: one member each.
    expect(calls()).toBe(5);
    await checkPublished(storage, snapshot);
    expect(parseMemberTable(snapshot.rendered[`${DIR}/Packages.gz`])?.members.map((m) => m[0].startsWith('+'))).toEqual([false, true, true, true, true]);

    // Steps: [what, gzip calls].
    const steps: [() => Promise<{ snapshot: Snapshot } | Snapshot>, number][] = [
      [() => upload(service, 'avocado_2.0'), 1], // shard a
      [() => upload(service, 'cherry_1.1'), 1], // shard c
      [() => upload(service, 'libbar2_1.0'), 1], // a new shard, libb
      [() => upload(service, 'cherry-doc_1.0'), 1], // an `all` package: merged into shard c
      [() => remove(service, 'banana', '1.0', 'amd64'), 0], // shard b gone: nothing to compress
      [() => remove(service, 'zebra', '1.0', 'amd64'), 0], // the last shard gone
      [() => remove(service, 'apple', '1.0', 'amd64'), 1], // shard a changes
      [() => remove(service, 'avocado', '2.0', 'amd64'), 1], // shard a gone: c comes first, without the newline in front
      // a first again, z; c after a again is the part cached when it came after b.
      [() => upload(service, 'apple_1.0', 'zebra_1.0'), 2],
    ];
    for (const [step, gzips] of steps) {
      const result = await step();
      snapshot = 'snapshot' in result ? result.snapshot : result;
      expect(calls()).toBe(gzips);
      await checkPublished(storage, snapshot);
    }
    // A new architecture: binary-arm64 has shards c (cherry-doc) and libf (libfoo-common);
    // binary-amd64 is rendered again (its settings changed) from cached parts.
    await service.updateRepo('acme', { architectures: ['amd64', 'arm64'] }, 'test');
    expect(calls()).toBe(2);
    ({ snapshot } = await upload(service, 'tool_0.1'));
    // A package of another architecture leaves binary-amd64 alone: shard t of binary-arm64.
    expect(calls()).toBe(1);
    await checkPublished(storage, snapshot);
    await checkPublished(storage, snapshot, 'dists/stable/main/binary-arm64');
  });

  it('a fresh service on the same storage reads unchanged members back with range reads instead of compressing them', async () => {
    const storage = new RecordingStorage();
    const first = await countingService(storage);
    await first.service.createRepo({ name: 'acme', type: 'deb', architectures: ['amd64'] }, 'test');
    await upload(first.service, 'apple_1.0', 'banana_1.0', 'cherry_1.0', 'libfoo1_1.0', 'libfoo-common_1.0', 'zebra_1.0');

    // Restarted: a new service, nothing cached in this module.
    clearPartCache();
    const second = await countingService(storage);
    storage.ranges = [];
    let { snapshot } = await upload(second.service, 'cherry_1.1');
    expect(second.calls()).toBe(1);
    await checkPublished(storage, snapshot);
    const previous = (await first.service.snapshots('acme', 2))[1]!;
    const ranged = storage.ranges.filter(([key]) => key === previous.files[`${DIR}/Packages.gz`]!.key);
    // Shards a, b before c; libf, z after it: two runs of Packages.gz.
    expect(ranged).toHaveLength(2);
    expect(ranged.every(([, range]) => range !== undefined && range.length! > 0)).toBe(true);

    for (const [step, gzips] of [
      // Shard a gone: b comes first, without the newline in front.
      [() => remove(second.service, 'apple', '1.0', 'amd64'), 1],
      // a first again, b after it (the file has only b first), a new shard libb.
      [() => upload(second.service, 'avocado_2.0', 'libbar2_1.0'), 3],
    ] as const) {
      clearPartCache();
      const result = await step();
      snapshot = 'snapshot' in result ? result.snapshot : result;
      expect(second.calls()).toBe(gzips);
      await checkPublished(storage, snapshot);
    }
  });

  it('renders again what a member table cannot vouch for', async () => {
    const storage = new MemoryStorage();
    const { service } = await countingService(storage);
    await service.createRepo({ name: 'acme', type: 'deb', architectures: ['amd64'] }, 'test');
    const { snapshot } = await upload(service, 'apple_1.0', 'banana_1.0', 'cherry_1.0', 'zebra_1.0');
    const expected = await checkPublished(storage, snapshot);
    const byArch = snapshot.lists.stable!.main!;
    const tag = snapshot.rendered[`${DIR}/Packages.gz`];
    const previousOf = (table: string | undefined) => ({ table: parseMemberTable(table), gz: snapshot.files[`${DIR}/Packages.gz`] });
    const build = async (previous: ReturnType<typeof previousOf>) => {
      clearPartCache();
      let calls = 0;
      const ctx = { store: new RepoStore(storage), signer: await testSigner(), createHasher: createNodeHasher, gzip: (d: Uint8Array) => (calls++, webGzip(d)), now: () => new Date() };
      const built = await buildPackagesFile(ctx, byArch.amd64!, byArch.all ?? {}, previous);
      expect(built.size).toBe(Buffer.byteLength(expected));
      expect(gunzipSync(built.gz).toString()).toBe(expected);
      return calls;
    };
    expect(await build(previousOf(tag))).toBe(0);
    // What older builds kept, or nothing.
    for (const old of [undefined, 'dists/stable/main/binary-amd64', '{"v":2}', '[1,2]', 'not json']) expect(parseMemberTable(old)).toBeNull();
    expect(await build(previousOf('garbage'))).toBe(4);
    // A table for other files (its digests differ from the entries'), or not tiling them.
    const table = parseMemberTable(tag)!;
    expect(await build(previousOf(JSON.stringify({ ...table, gz: '0'.repeat(64) })))).toBe(4);
    expect(parseMemberTable(JSON.stringify({ ...table, members: table.members.map((m, i) => (i === 1 ? [m[0], m[1] + 1, m[2], m[3], m[4]] : m)) }))).toBeNull();
    // Members whose text is not of the length the table gives (the first two swap lengths, the
    // table still tiling): the run is rendered again.
    const [m0, m1] = table.members as [MemberTable['members'][number], MemberTable['members'][number]];
    expect(m0[2]).not.toBe(m1[2]);
    const swapped = [[m0[0], 0, m1[2], m0[3], m0[4]], [m1[0], m1[2], m0[2], m1[3], m1[4]], ...table.members.slice(2)];
    expect(parseMemberTable(JSON.stringify({ ...table, members: swapped }))).not.toBeNull();
    expect(await build(previousOf(JSON.stringify({ ...table, members: swapped })))).toBe(4);
    // Files gone.
    expect(await build({ ...previousOf(tag), gz: { ...snapshot.files[`${DIR}/Packages.gz`]!, key: 'nowhere' } })).toBe(4);
    expect(memberTable([], 'a', 'b')).toEqual({ v: 1, packages: 'a', gz: 'b', members: [] });
  });
});
