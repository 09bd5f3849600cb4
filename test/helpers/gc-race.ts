// gc beside publishing, as one scenario that runs in Node and inside workerd: two publishers and
// two collectors, each with caches of its own as separate processes have, on one storage; the
// grace period at the protocol's minimum; some package bytes and documents written late, so that
// publishes rely on objects older than half the grace period; removes and re-adds, so indexes
// come back identical to old, unreferenced ones. Then fsck, and, after a restart (fresh caches),
// a fetch of every file the repository lists. Web-standard code only.
import { RepositoryService } from '../../src/core/service.js';
import { formats } from '../../src/formats/index.js';
import { RepoStore } from '../../src/core/store.js';
import { gc } from '../../src/core/gc.js';
import { fsck } from '../../src/core/fsck.js';
import { snapshotReferences } from '../../src/core/references.js';
import { AdminToken } from '../../src/auth/admin-token.js';
import { Access } from '../../src/auth/access.js';
import { createApp } from '../../src/http/app.js';
import { PackyardError } from '../../src/util/errors.js';
import type { GcTiming } from '../../src/core/gc-protocol.js';
import type { HasherFactory } from '../../src/util/hash.js';
import type { Signer } from '../../src/signing/signer.js';
import type { Storage } from '../../src/storage/types.js';
import { prng, type Random } from './random.js';

export interface RaceSetup {
  storage: Storage;
  signer: Signer;
  createHasher: HasherFactory;
  timing: GcTiming;
  /** Publishes per publisher, at least. */
  publishes: number;
  /**
   * gc runs to overlap with the publishes: publishing goes on (up to three times `publishes`)
   * until this many have run, so that a faster publish does not make a thinner race.
   */
  minGcRuns?: number;
  /** Package files by "name version" (architecture amd64). */
  files: Map<string, Uint8Array>;
  seed?: number;
}

export interface RaceResult {
  gcRuns: number;
  deleted: number;
  /** gc runs refused because the other collector held the lease. */
  gcRefused: number;
  /** Publishes refused with a 503 (slower than the grace period): nothing of them is lost. */
  publishesRefused: number;
  /**
   * Of those, the ones whose upload was younger than the grace period when refused: gc may take
   * an upload only once it is older, so these must be none. (Counting the uploads held back past
   * the grace period, `overdue`, is not enough on a loaded machine: one held back for 0.75 of it
   * can pass it while the rest of its publish runs.)
   */
  refusedYoung: string[];
  /** Uploads held back for longer than the grace period. */
  overdue: number;
  touches: number;
  /** fsck's problems and files not served after the restart: must be empty. */
  problems: string[];
  served: number;
}

const place = { distribution: 'stable', component: 'main', actor: 'race' };

export async function runGcRace(setup: RaceSetup): Promise<RaceResult> {
  const { storage, signer, createHasher, timing } = setup;
  const random = prng(setup.seed ?? 12);
  const result: RaceResult = { gcRuns: 0, deleted: 0, gcRefused: 0, publishesRefused: 0, refusedYoung: [], overdue: 0, touches: 0, problems: [], served: 0 };
  /** Each upload's modification time as stored: its age, as gc sees it. */
  const uploadedAt = new Map<string, number>();
  const slow = slowed(storage, random, timing, result, uploadedAt);
  const service = () => new RepositoryService({ formats, storage: slow, signer, createHasher, headTtlMs: 0, gcTiming: timing });
  const [first, second] = [service(), service()];
  await first.createRepo({ name: 'acme', distributions: { stable: {} } }, 'race');
  const retention = { graceMs: timing.minGraceMs, generations: 0 };

  let publishing = true;
  const collector = async () => {
    const store = new RepoStore(storage, { headTtlMs: 0, gcTiming: timing });
    while (publishing) {
      try {
        result.deleted += (await gc(store, 'acme', { retention })).deleted.objects;
        result.gcRuns++;
      } catch (err) {
        if (!(err instanceof PackyardError && err.code === 'gc-running')) throw err;
        result.gcRefused++;
      }
      await sleep(2);
    }
  };
  // A 503 is a publish slower than the grace period, refused whole; a 404, a package the other
  // publisher removed first.
  const refused = (err: unknown) => {
    if (!(err instanceof PackyardError && (err.status === 503 || err.status === 404))) throw err;
    if (err.status !== 503) return;
    result.publishesRefused++;
    const key = /\((repos\/[^)]+\/blobs\/[^)]+)\)/.exec(err.message)?.[1];
    const age = key && uploadedAt.has(key) ? Date.now() - uploadedAt.get(key)! : undefined;
    if (age === undefined || age < timing.minGraceMs) result.refusedYoung.push(`${err.code}: ${err.message} (upload age ${age ?? 'unknown'} ms)`);
  };
  // After each publish, a fresh look: every object the head references is there. (A superseded
  // head's objects stay for the grace period, far longer than this check takes.)
  const observer = new RepoStore(storage, { headTtlMs: 0, gcTiming: timing });
  const checkHead = async () => {
    const head = await observer.readHead('acme');
    for (const [key, ref] of await snapshotReferences(observer, head!.snapshot, (missing) => result.problems.push(`live: pool map ${missing} missing`))) {
      if (!(await storage.head(key))) result.problems.push(`live: ${ref.path ?? key} missing from head ${head!.snapshot.id}`);
    }
  };
  const publish = async (publisher: RepositoryService) => {
    for (let i = 0; i < setup.publishes || (result.gcRuns < (setup.minGcRuns ?? 0) && i < 3 * setup.publishes); i++) {
      if (i > 0) await checkHead();
      const published = new Set((await publisher.listPackages('acme')).map((p) => `${p.package} ${p.version}`));
      const key = random.pick([...setup.files.keys()]);
      const [name, version] = key.split(' ') as [string, string];
      if (published.has(key) && random.next() < 0.6) await publisher.remove('acme', { ...place, package: name, version, architecture: 'amd64' }, 'race').catch(refused);
      else await publisher.upload('acme', [{ name: `${name}_${version}.deb`, open: () => setup.files.get(key)! }], place).catch(refused);
    }
  };
  const collectors = [collector(), collector()];
  try {
    await Promise.all([publish(first), publish(second)]);
  } finally {
    publishing = false;
    await Promise.all(collectors);
  }

  const restarted = new RepositoryService({ formats, storage, signer, createHasher, headTtlMs: 0, gcTiming: timing });
  for (const p of (await fsck(restarted.store, createHasher, 'acme', { retention })).problems) result.problems.push(`fsck: ${p.problem} ${p.path ?? p.key}`);

  const { admin } = await AdminToken.load(storage, 'race-admin');
  const app = createApp({ service: restarted, access: new Access(storage, admin), signer });
  const head = await restarted.getRepo('acme');
  // Every file of the tree the format says clients may fetch (indexes by name and by hash).
  const paths: [string, number][] = [];
  for await (const item of formats.of(head).clientPaths(head, (key) => restarted.store.meta(key), { base: () => 'http://localhost/acme' })) if (item.kind === 'file') paths.push([item.path, item.entry.size]);
  for (const p of await restarted.listPackages('acme')) paths.push([p.filename, p.size]);
  for (const [path, size] of paths) {
    const res = await app.request(`/acme/${path}`, { headers: { authorization: 'Bearer race-admin' } });
    const length = (await res.arrayBuffer()).byteLength;
    if (res.status !== 200 || length !== size) result.problems.push(`served: ${path} ${res.status} ${length} bytes, expected ${size}`);
    else result.served++;
  }
  return result;
}

/** The storage, with some writes of package bytes and documents held back: slow publishes. */
function slowed(storage: Storage, random: Random, timing: GcTiming, counts: { touches: number; overdue: number }, uploadedAt: Map<string, number>): Storage {
  return new Proxy(storage, {
    get(target, prop, receiver) {
      if (prop === 'put') {
        return async (...args: Parameters<Storage['put']>) => {
          const written = await target.put(...args);
          // The upload's age as gc sees it: by the time the storage dated it (the workerd disk
          // service dates to the whole second, up to a second before the write began).
          if (written && args[0].includes('/blobs/')) uploadedAt.set(args[0], written.lastModified.getTime());
          // A write that returns late leaves its object aging while the publish goes on: package
          // bytes older than half the grace period (the publish must touch them), now and then
          // older than all of it (gc may take them first: the publish is refused); documents
          // late enough to slow the build.
          const dice = random.next();
          if (args[0].includes('/blobs/') && dice < 0.1) {
            counts.overdue++;
            await sleep(timing.minGraceMs * (1.1 + 0.2 * random.next()));
          } else if (args[0].includes('/blobs/') && dice < 0.3) await sleep(timing.minGraceMs * (0.55 + 0.2 * random.next()));
          else if (args[0].includes('/meta/') && dice < 0.08) await sleep(timing.minGraceMs * (0.1 + 0.2 * random.next()));
          return written;
        };
      }
      if (prop === 'touch') {
        return (key: string) => {
          counts.touches++;
          return target.touch(key);
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
