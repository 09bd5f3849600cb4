// Where the time of one publish goes, in-process, on a copy of a data directory: the real
// RepositoryService over FsStorage (the sources, through tsx: no change to src/), with the
// methods a publish calls wrapped to time them. Then the same steps once more in isolation
// (render, gzip, hashing with 2 or 4 digests, signing once or twice, JSON of the snapshot).
//
//   node --import tsx bench/lib/publish-phases.mjs DATA_DIR REPO DIST COMPONENT RUNS FILE...
//
// Each FILE is published alone (RUNS of them; the first is reported apart as warm-up). Prints
// a JSON summary on stdout: per phase the median ms (wall, nested phases are inside their
// parents) and the sizes of the documents written.
import { readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { openDataDir } from '../../src/hosts/node/runtime.ts';
import { FsStorage } from '../../src/hosts/node/fs-storage.ts';
import { RepoStore } from '../../src/core/store.ts';
import { PublishGuard } from '../../src/core/gc-protocol.ts';
import { Signer } from '../../src/signing/signer.ts';
import { renderShards } from '../../src/formats/deb/package-lists.ts';
import { buildPackagesFile, clearPartCache, parseMemberTable } from '../../src/formats/deb/packages-file.ts';
import { nodeGzip } from '../../src/hosts/node/gzip.ts';
import { createNodeHasher } from '../../src/hosts/node/hasher.ts';

const [dataDir, repo, distribution, component, runsArg, ...files] = process.argv.slice(2);
// RUNS 0: one publish of all FILEs together (a batch, as `packyard add` of many files).
const batch = Number(runsArg) === 0;
const runs = batch ? 1 : Number(runsArg);
if (!dataDir || files.length < runs) throw new Error('usage: publish-phases.mjs DATA_DIR REPO DIST COMPONENT RUNS FILE... (at least RUNS files)');

let current = null; // the phase totals of the publish being measured
let spans = null; // the spans of the publish being measured: [name, start, end] from its start
let t0 = 0;
const now = () => performance.now();
function add(name, ms, bytes) {
  if (!current) return;
  const end = now();
  spans.push([name, end - ms - t0, end - t0, bytes ?? 0]);
  const p = (current[name] ??= { ms: 0, calls: 0, bytes: 0 });
  p.ms += ms;
  p.calls++;
  if (bytes) p.bytes += bytes;
}
function keyClass(key) {
  if (/\/head\.json$/.test(key)) return 'head';
  if (/\/snapshots\//.test(key)) return 'snapshot';
  if (/\/by-hash\//.test(key)) return 'by-hash';
  if (/\/meta\//.test(key)) return 'meta';
  if (/\/blobs\//.test(key)) return 'blob';
  return 'other';
}
function size(body) {
  return typeof body === 'string' ? Buffer.byteLength(body) : body instanceof Uint8Array ? body.length : 0;
}
/** Wraps an async method so that its wall time lands in phase `name(args)`. */
function wrap(proto, method, name) {
  const orig = proto[method];
  proto[method] = async function (...args) {
    const t = now();
    try {
      return await orig.apply(this, args);
    } finally {
      const n = typeof name === 'function' ? name(...args) : name;
      if (n) add(n, now() - t, method === 'put' ? size(args[1]) : 0);
    }
  };
}

wrap(FsStorage.prototype, 'put', (key) => `storage.put ${keyClass(key)}`);
wrap(FsStorage.prototype, 'get', (key) => `storage.get ${keyClass(key)}`);
wrap(FsStorage.prototype, 'head', (key) => `storage.head ${keyClass(key)}`);
wrap(FsStorage.prototype, 'touch', (key) => `storage.touch ${keyClass(key)}`);
wrap(RepoStore.prototype, 'readHead', 'store.readHead (head + snapshot parse if uncached)');
wrap(RepoStore.prototype, 'putMeta', 'store.putMeta (JSON.stringify + write)');
wrap(RepoStore.prototype, 'putContentAddressed', 'store.putContentAddressed (by-hash index files)');
wrap(PublishGuard.prototype, 'secure', 'guard.secure (P1 touches, P2 settle waits)');
wrap(Signer.prototype, 'clearSign', 'sign: clearSign (InRelease)');
wrap(Signer.prototype, 'detachSign', 'sign: detachSign (Release.gpg)');
// meta() returns cached documents synchronously-fast; time only real loads (JSON.parse included).
{
  const orig = RepoStore.prototype.meta;
  RepoStore.prototype.meta = async function (key) {
    const cached = this.metas.get(key) !== undefined;
    const t = now();
    try {
      return await orig.call(this, key);
    } finally {
      add(cached ? 'store.meta (cache hit)' : 'store.meta load (read + JSON.parse)', now() - t);
    }
  };
}
// commit: the whole publish after ingestion; its build callback is timed apart.
{
  const orig = RepoStore.prototype.commit;
  RepoStore.prototype.commit = async function (repoName, build, options) {
    const t = now();
    try {
      return await orig.call(
        this,
        repoName,
        async (cur, guard) => {
          const b = now();
          try {
            return await build(cur, guard);
          } finally {
            add('commit: build (buildSnapshot incl. render, gzip, hash, sign, writes)', now() - b);
          }
        },
        options,
      );
    } finally {
      add('commit (build + snapshot write + guard + head CAS)', now() - t);
    }
  };
}

const rt = await openDataDir(dataDir);
const svc = rt.service;
// gzip and hashing pass through the service's deps: wrap them there.
const ctx = svc.ctx;
const gzip = ctx.gzip;
ctx.gzip = async (data) => {
  const t = now();
  try {
    return await gzip(data);
  } finally {
    add('gzip (Packages.gz, node zlib, thread pool)', now() - t, data.length);
  }
};
const hasherFactory = ctx.createHasher;
const timed = (h, label) => ({
  update(chunk) {
    const t = now();
    const r = h.update(chunk);
    add(label, now() - t, chunk.length);
    return r;
  },
  digest() {
    return h.digest();
  },
  // As the host's: a Packages file whose start is unchanged is hashed on from where it ended.
  ...(h.copy && { copy: () => timed(h.copy(), label) }),
});
const timedHasher = (names) => timed(hasherFactory(names), `hash ${(names ?? ['md5', 'sha1', 'sha256', 'sha512']).join('+')}`);
ctx.createHasher = timedHasher;
svc.deps.createHasher = timedHasher;

const perRun = [];
let lastSpans = [];
for (let r = 0; r < runs; r++) {
  const batchFiles = batch ? files : [files[r]];
  current = {};
  spans = [];
  const t = now();
  t0 = t;
  const opened = batchFiles.map((f) => ({ name: f, open: async () => new Uint8Array(await readFile(f)) }));
  await svc.upload(repo, opened, { distribution, component, actor: 'bench' });
  const total = now() - t;
  add('total (service.upload)', total);
  perRun.push(current);
  lastSpans = spans;
  current = null;
  process.stderr.write(`publish-phases run ${r}: ${total.toFixed(1)} ms\n`);
}

if (batch) {
  const phases = Object.fromEntries(Object.entries(perRun[0]).map(([k, v]) => [k, { ...v, first: v.ms }]));
  console.log(JSON.stringify({ runs: 1, phases, sizes: {}, isolated: {}, timeline: [] }));
  process.exit(0);
}
// Sizes of what the last publish wrote and read.
const head = await rt.service.store.readHead(repo);
const snap = head.snapshot;
const snapJson = JSON.stringify(snap);
const sizes = {
  snapshotJsonBytes: Buffer.byteLength(snapJson),
  snapshotFilesEntries: Object.keys(snap.files).length,
  snapshotFilesJsonBytes: Buffer.byteLength(JSON.stringify(snap.files)),
  snapshotRenderedJsonBytes: Buffer.byteLength(JSON.stringify(snap.rendered)),
  snapshotListsJsonBytes: Buffer.byteLength(JSON.stringify(snap.lists)),
  snapshotPoolJsonBytes: Buffer.byteLength(JSON.stringify(snap.pool)),
};

// Isolated measurements of the same steps on the final repository (median of 7 each).
function med(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
async function time(fn, n = 7) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = now();
    await fn();
    out.push(now() - t);
  }
  return med(out);
}
const dist = snap.lists[distribution][component];
const archs = Object.keys(dist).filter((a) => a !== 'all');
const isolated = {};
for (const arch of archs) {
  const text = await renderShards(svc.store, dist[arch], dist.all ?? {});
  const packages = new TextEncoder().encode(text);
  const shardCount = new Set([...Object.keys(dist[arch]), ...Object.keys(dist.all ?? {})]).size;
  Object.assign(isolated, {
    [`render Packages binary-${arch} (${shardCount} shards, cached shard documents)`]: await time(() => renderShards(svc.store, dist[arch], dist.all ?? {})),
    [`Packages binary-${arch} bytes`]: packages.length,
    // As publishes build it now: per-shard parts (text + gzip member) cached by shard keys.
    [`Packages + .gz binary-${arch} from parts, fresh process (range reads of the stored files, all digests)`]: await time(async () => {
      clearPartCache();
      const dir = `dists/${distribution}/${component}/binary-${arch}`;
      const previous = { table: parseMemberTable(snap.rendered[`${dir}/Packages.gz`]), packages: snap.files[`${dir}/Packages`], gz: snap.files[`${dir}/Packages.gz`] };
      await buildPackagesFile({ store: svc.store, createHasher: createNodeHasher, gzip: nodeGzip }, dist[arch], dist.all ?? {}, previous);
    }),
    [`Packages + .gz binary-${arch} from parts, all cached, no hash trail (concat + all digests)`]: await time(() => buildPackagesFile({ store: svc.store, createHasher: createNodeHasher, gzip: nodeGzip }, dist[arch], dist.all ?? {})),
    'gzip nodeGzip (as published: members in parallel on the thread pool)': await time(() => nodeGzip(packages)),
    'gzip one member, level 6, main thread (gzipSync)': await time(() => gzipSync(packages)),
    'gzip one member, level 1 (gzipSync)': await time(() => gzipSync(packages, { level: 1 })),
    'Packages.gz bytes': (await nodeGzip(packages)).length,
    'hash 4 digests (md5+sha1+sha256+sha512) of Packages': await time(() => {
      const h = createNodeHasher();
      h.update(packages);
      h.digest();
    }),
    'hash 2 digests (sha256+sha512) of Packages': await time(() => {
      const h = createNodeHasher(['sha256', 'sha512']);
      h.update(packages);
      h.digest();
    }),
    'hash sha256 only of Packages': await time(() => createHash('sha256').update(packages).digest()),
    'FsStorage.put of Packages (a new file, no fsync)': await (async () => {
      const keys = [];
      const ms = await time(async () => {
        const k = `repos/${repo}/bench-tmp/${Math.random().toString(36).slice(2)}`;
        keys.push(k);
        await rt.storage.put(k, packages);
      });
      for (const k of keys) await rt.storage.delete(k);
      return ms;
    })(),
  });
}
const releaseText = (await (await rt.storage.get(snap.files[`dists/${distribution}/Release`].key)).body.getReader().read()).value;
const release = new TextDecoder().decode(releaseText);
Object.assign(isolated, {
  'Release bytes': releaseText.length,
  'sign clearSign (InRelease)': await time(() => rt.signer.clearSign(release)),
  'sign detachSign (Release.gpg)': await time(() => rt.signer.detachSign(releaseText)),
  'JSON.stringify snapshot': await time(() => JSON.stringify(snap)),
  'JSON.parse snapshot': await time(() => JSON.parse(snapJson)),
  'structuredClone snapshot.lists (ListSet.save)': await time(() => structuredClone(snap.lists)),
});
// One list shard, the largest of the architecture's: JSON of a shard a publish writes.
{
  let biggest = null;
  for (const key of Object.values(dist[archs[0]])) {
    const doc = await svc.store.meta(key);
    if (!biggest || doc.length > biggest.length) biggest = doc;
  }
  const json = JSON.stringify(biggest);
  Object.assign(isolated, {
    'largest list shard: records': biggest.length,
    'largest list shard: JSON bytes': Buffer.byteLength(json),
    'largest list shard: JSON.stringify': await time(() => JSON.stringify(biggest)),
    'largest list shard: JSON.parse': await time(() => JSON.parse(json)),
  });
}

// Median per phase over the runs after the first.
const counted = perRun.slice(1);
const names = [...new Set(perRun.flatMap((p) => Object.keys(p)))];
const phases = {};
for (const name of names) {
  phases[name] = {
    ms: med(counted.map((p) => p[name]?.ms ?? 0)),
    calls: med(counted.map((p) => p[name]?.calls ?? 0)),
    bytes: med(counted.map((p) => p[name]?.bytes ?? 0)),
    first: perRun[0][name]?.ms ?? 0,
  };
}
const timeline = lastSpans.filter(([, s, e]) => e - s >= 0.5).sort((a, b) => a[1] - b[1]);
console.log(JSON.stringify({ runs: counted.length, phases, sizes, isolated, timeline }, null, 1));
