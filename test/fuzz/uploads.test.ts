// Fuzzing uploads through the whole HTTP app (memory storage): mutated .deb and .rpm packages as
// raw bodies, and multipart batches (a good package, then a mutated one) with the multipart
// bytes and boundary mutated too, each body streamed in random chunks. Every answer must be a
// 2xx, or a 4xx with a JSON `{error: {code, message}}`; never a 5xx. After every refusal the
// storage must hold exactly the objects it held before (no blob left behind, nothing rewritten)
// and the repository must be at the same snapshot. Settings and replay: test/helpers/fuzz.ts.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { testApp } from '../helpers/app.js';
import { snapshotReferences } from '../../src/core/references.js';
import { buildDeb } from '../helpers/debs.js';
import { buildRpm } from '../helpers/rpms.js';
import { concat } from '../helpers/bytes.js';
import { chunkSplits, chunksOf, fuzzRuns, mutateAll, mutation, tally, withinTime } from '../helpers/fuzz.js';

type App = Awaited<ReturnType<typeof testApp>>;
let t: App;
let workDir: string;

interface Repo {
  name: string;
  upload: string;
  type: string;
  /** Packages not in the repository: what gets mutated, and the good part of a batch. */
  fresh: Uint8Array[];
}
const deb: Repo = { name: 'acme', upload: '/api/v1/repos/acme/packages?distribution=stable&component=main', type: 'application/vnd.debian.binary-package', fresh: [] };
const rpm: Repo = { name: 'yum', upload: '/api/v1/repos/yum/packages?distribution=el9', type: 'application/x-rpm', fresh: [] };

beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'packyard-fuzz-uploads-'));
  t = await testApp();
  expect((await t.request('/api/v1/repos', { method: 'POST', body: JSON.stringify({ name: 'acme' }) })).status).toBe(201);
  expect((await t.request('/api/v1/repos', { method: 'POST', body: JSON.stringify({ name: 'yum', type: 'rpm', distributions: { el9: {} } }) })).status).toBe(201);
  const read = async (file: Promise<{ path: string }>) => new Uint8Array(await readFile((await file).path));
  const [hello, d1, d2, helloRpm, r1] = await Promise.all([
    read(buildDeb({ name: 'hello', version: '1.0', arch: 'amd64' }, workDir)),
    read(buildDeb({ name: 'fresh', version: '2.0', depends: 'hello' }, workDir)),
    read(buildDeb({ name: 'fresh-zst', version: '3.0', compression: 'zstd' }, workDir)),
    read(buildRpm({ name: 'hello', version: '1.0', release: '1' }, workDir)),
    read(buildRpm({ name: 'fresh', version: '2.0', release: '1', requires: ['hello'], files: { '/usr/share/fresh/x': 'x'.repeat(2000) } }, workDir)),
  ]);
  deb.fresh = [d1, d2];
  rpm.fresh = [r1];
  // A published state to compare against, in both repositories.
  for (const [repo, bytes] of [[deb, hello], [rpm, helloRpm]] as const) {
    expect((await t.request(repo.upload, { method: 'POST', body: bytes as Uint8Array<ArrayBuffer>, headers: { 'content-type': repo.type } })).status).toBe(201);
  }
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

interface State {
  repo: unknown;
  /** Every storage key with its etag, so a rewrite in place shows too. */
  objects: string[];
}

async function state(repo: Repo): Promise<State> {
  const res = await t.request(`/api/v1/repos/${repo.name}`);
  expect(res.status).toBe(200);
  const objects: string[] = [];
  for await (const o of t.storage.list('')) objects.push(`${o.key} ${o.etag}`);
  return { repo: await res.json(), objects: objects.sort() };
}

/** A request body streamed in the given chunks, as a client's upload arrives. */
function streamed(body: Uint8Array, splits: readonly number[]): ReadableStream<Uint8Array> {
  const chunks = chunksOf(body, splits);
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]!.slice());
      else controller.close();
    },
  });
}

/**
 * Sends the upload and checks the answer: 2xx, or a 4xx JSON error after which storage and the
 * repository are as `before` (by default: as they were just before the request).
 */
/**
 * Posts the body and checks the answer: 2xx, or a 4xx JSON error after which storage and the
 * repository are as `before` (once `cleanUp` has done what a client does after such a refusal).
 */
async function expectCleanAnswer(repo: Repo, body: Uint8Array, contentType: string, splits: readonly number[], before?: State, cleanUp?: (status: number) => Promise<void>): Promise<void> {
  before ??= await state(repo);
  const init = { method: 'POST', body: streamed(body, splits), headers: { 'content-type': contentType }, duplex: 'half' } as RequestInit;
  const res = await withinTime('the upload', () => t.request(repo.upload, init), 10_000);
  const text = await res.text();
  tally(`upload to ${repo.name}`, `${res.status} ${res.status >= 300 ? (JSON.parse(text) as { error?: { code?: string } }).error?.code : ''}`.trim());
  expect(res.status, text).toBeLessThan(500);
  expect(res.status, text).toBeGreaterThanOrEqual(200);
  if (res.status >= 300) {
    expect(res.status, text).toBeGreaterThanOrEqual(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/json\b/);
    expect(JSON.parse(text)).toEqual({ error: { code: expect.stringMatching(/^[a-z0-9-]+$/), message: expect.any(String) } });
    await cleanUp?.(res.status);
    const after = await state(repo);
    expect(after.objects, `storage after a ${res.status}: ${text}`).toEqual(before.objects);
    expect(after.repo, `repository after a ${res.status}: ${text}`).toEqual(before.repo);
  }
}

/** A form field of the batch besides the files: a resumable upload's id, or a field that is ignored. */
type Field = [name: string, value: string];

/** A multipart batch of these files and fields (fields at the given file positions), encoded as a client would. */
function batch(files: readonly Uint8Array[], b: string, type: string, fields: readonly [at: number, field: Field][] = []): Uint8Array {
  const parts = files.flatMap((bytes, i) => [
    ...fields.filter(([at]) => at % (files.length + 1) === i).flatMap(([, [name, value]]) => [`--${b}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`]),
    `--${b}\r\nContent-Disposition: form-data; name="file"; filename="f${i}"\r\nContent-Type: ${type}\r\n\r\n`,
    bytes,
    '\r\n',
  ]);
  return concat(...parts, `--${b}--\r\n`);
}

/** Upload ids as a client might send them: well-formed and unknown, or not ids at all. */
const uploadId = fc.oneof(
  fc.stringMatching(/^[0-9a-f]{32}$/),
  fc.constantFrom('', 'constructor', '__proto__', '../../repos/acme/head', 'a'.repeat(300), '0'.repeat(32)),
  fc.string({ maxLength: 40 }),
);
const field: fc.Arbitrary<Field> = fc.tuple(fc.constantFrom('upload', 'comment', 'files', 'File'), uploadId);

test('the good packages are accepted, so the fuzzing starts from valid uploads', async () => {
  for (const repo of [deb, rpm]) {
    const b = 'fuzz-boundary';
    const res = await t.request(repo.upload, { method: 'POST', body: batch(repo.fresh, b, repo.type) as Uint8Array<ArrayBuffer>, headers: { 'content-type': `multipart/form-data; boundary=${b}` } });
    expect([200, 201], await res.text()).toContain(res.status);
  }
});

describe.each([
  ['.deb', deb],
  ['.rpm', rpm],
])('uploads of mutated %s packages', (_, repo) => {
  test('as raw bodies: 2xx, or a 4xx JSON error leaving storage and head as they were', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.array(mutation(), { minLength: 1, maxLength: 3 }), chunkSplits(), async (pick, edits, splits) => {
        const bytes = mutateAll(repo.fresh[pick % repo.fresh.length]!, edits);
        await expectCleanAnswer(repo, bytes, repo.type, splits);
      }),
      fuzzRuns(150, 1000),
    );
  });

  test('in multipart batches, the multipart bytes mutated too', async () => {
    const boundary = fc.stringMatching(/^[0-9A-Za-z'()+_,\-./:=?]{1,40}$/);
    await fc.assert(
      fc.asyncProperty(
        fc.array(mutation(), { maxLength: 2 }),
        fc.array(mutation(), { maxLength: 2 }),
        boundary,
        fc.oneof(boundary.map((b) => `multipart/form-data; boundary=${b}`), fc.constantFrom('multipart/form-data', 'multipart/mixed; boundary=x', 'multipart/form-data; boundary=""', 'application/json')),
        fc.boolean(),
        fc.array(fc.tuple(fc.nat(), field), { maxLength: 2 }),
        chunkSplits(),
        async (packageEdits, bodyEdits, b, otherType, sameBoundary, fields, splits) => {
          const files = [repo.fresh[0]!, mutateAll(repo.fresh[repo.fresh.length - 1]!, packageEdits)];
          const body = mutateAll(batch(files, b, repo.type, fields), bodyEdits);
          await expectCleanAnswer(repo, body, sameBoundary ? `multipart/form-data; boundary="${b}"` : otherType, splits);
        },
      ),
      fuzzRuns(150, 1000),
    );
  });

  test('as resumable uploads: a refused package uses its upload up; any other refusal keeps it for another try, until aborted', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.array(mutation(), { minLength: 1, maxLength: 3 }), chunkSplits(), async (pick, edits, splits) => {
        const bytes = mutateAll(repo.fresh[pick % repo.fresh.length]!, edits);
        fc.pre(bytes.length > 0); // a resumable upload has at least one byte
        const before = await state(repo);
        const started = await t.request(`/api/v1/repos/${repo.name}/uploads`, { method: 'POST', body: JSON.stringify({ size: bytes.length }) });
        expect(started.status).toBe(201);
        const { upload } = (await started.json()) as { upload: { id: string; parts: number } };
        expect(upload.parts).toBe(1);
        const part = await t.request(`/api/v1/repos/${repo.name}/uploads/${upload.id}/parts/1`, { method: 'PUT', body: bytes as Uint8Array<ArrayBuffer>, headers: { 'content-length': String(bytes.length) } });
        expect(part.status, await part.text()).toBe(200);
        await expectCleanAnswer(repo, new TextEncoder().encode(JSON.stringify({ uploads: [upload.id] })), 'application/json', splits, before, async (status) => {
          const session = await t.request(`/api/v1/repos/${repo.name}/uploads/${upload.id}`);
          if (status === 422) return void expect(session.status).toBe(404);
          // 409 package-exists and the like: the upload stays, and the client may abort it. Its
          // joined file is then garbage, no snapshot's: gc's to collect, as it would here.
          expect(session.status).toBe(200);
          expect((await t.request(`/api/v1/repos/${repo.name}/uploads/${upload.id}`, { method: 'DELETE' })).status).toBe(204);
          const head = await t.service.getRepo(repo.name);
          const referenced = await snapshotReferences(t.service.store, head);
          const known = new Set(before.objects.map((o) => o.split(' ')[0]));
          for await (const o of t.storage.list(`repos/${repo.name}/blobs/`)) {
            if (known.has(o.key)) continue;
            expect(referenced.has(o.key), `${o.key} is published`).toBe(false);
            await t.storage.delete(o.key);
          }
        });
      }),
      fuzzRuns(100, 1000),
    );
  });

  test('JSON bodies naming resumable uploads', async () => {
    const json = fc.oneof(fc.record({ uploads: fc.array(uploadId, { maxLength: 3 }) }), fc.record({ uploads: fc.jsonValue() }), fc.jsonValue());
    await fc.assert(
      fc.asyncProperty(json, fc.array(mutation(), { maxLength: 2 }), chunkSplits(), async (value, edits, splits) => {
        const body = mutateAll(new TextEncoder().encode(JSON.stringify(value) ?? ''), edits);
        await expectCleanAnswer(repo, body, 'application/json', splits);
      }),
      fuzzRuns(150, 1000),
    );
  });
});
