// Uploads the API must refuse without a trace. Every malformed .deb of the inspector's corpus
// (test/fixtures/malformed-debs.ts) is sent as a raw body and, after a good package, in a
// multipart batch; then requests that are malformed at the HTTP level. Each must get a JSON
// error with the inspector's code and leave the repository as it was: the same published
// state and the same storage objects (nothing of the batch stored, no partial blob left).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { malformedDebs } from '../fixtures/malformed-debs.js';
import { testApp } from '../helpers/app.js';
import { buildDeb } from '../helpers/debs.js';

const cases = malformedDebs();

const UPLOAD = '/api/v1/repos/acme/packages?distribution=stable&component=main';
const DEB_TYPE = 'application/vnd.debian.binary-package';

type App = Awaited<ReturnType<typeof testApp>>;
let t: App;
/** Good packages not in the repository: the valid part of every batch. */
let fresh: Uint8Array<ArrayBuffer>;
let fresh2: Uint8Array<ArrayBuffer>;
/** The repository as it was before any of the uploads here. */
let before: State;

interface State {
  repo: unknown;
  /** Every storage key with its etag, so a rewrite in place shows too. */
  objects: [key: string, etag: string][];
}

async function state(): Promise<State> {
  const res = await t.request('/api/v1/repos/acme');
  expect(res.status).toBe(200);
  const objects: State['objects'] = [];
  for await (const o of t.storage.list('')) objects.push([o.key, o.etag]);
  return { repo: await res.json(), objects: objects.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) };
}

async function expectUnchanged(after: string) {
  const now = await state();
  expect(now.objects, `storage objects ${after}`).toEqual(before.objects);
  expect(now.repo, `GET /api/v1/repos/acme ${after}`).toEqual(before.repo);
}

/** Checks the response is the JSON error `{ error: { code, message } }` and returns its message. */
async function expectError(res: Response, status: number, code: string, label: string): Promise<string> {
  const text = await res.text();
  expect(res.status, `${label}: status (body ${text})`).toBe(status);
  expect(res.headers.get('content-type'), `${label}: content-type`).toMatch(/^application\/json\b/);
  const body = JSON.parse(text) as unknown;
  expect(body, label).toEqual({ error: { code, message: expect.any(String) } });
  const { message } = (body as { error: { message: string } }).error;
  expect(message.length, `${label}: message`).toBeGreaterThan(0);
  return message;
}

function form(...files: [field: string, bytes: Uint8Array<ArrayBuffer> | string, filename?: string][]): FormData {
  const fd = new FormData();
  for (const [field, bytes, filename] of files) {
    if (typeof bytes === 'string') fd.append(field, bytes);
    else fd.append(field, new Blob([bytes], { type: DEB_TYPE }), filename);
  }
  return fd;
}

/** The bytes and content type a client sends for `fd`. */
async function encode(fd: FormData): Promise<{ body: Uint8Array<ArrayBuffer>; type: string }> {
  const req = new Request('http://packyard.test/', { method: 'POST', body: fd });
  return { body: new Uint8Array(await req.arrayBuffer()), type: req.headers.get('content-type')! };
}

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'packyard-malformed-uploads-'));
  t = await testApp();
  expect((await t.request('/api/v1/repos', { method: 'POST', body: JSON.stringify({ name: 'acme' }) })).status).toBe(201);
  const [hello, f1, f2] = await Promise.all([
    buildDeb({ name: 'hello', version: '1.0', arch: 'amd64' }, workDir),
    buildDeb({ name: 'fresh', version: '2.0' }, workDir),
    buildDeb({ name: 'fresh-two', version: '3.0', compression: 'zstd' }, workDir),
  ]);
  const up = await t.request(UPLOAD, { method: 'POST', body: new Uint8Array(await readFile(hello.path)), headers: { 'content-type': DEB_TYPE } });
  expect(up.status).toBe(201);
  fresh = new Uint8Array(await readFile(f1.path));
  fresh2 = new Uint8Array(await readFile(f2.path));
  before = await state();
  // A published state to compare against: hello is in stable/main, in the pool and in storage.
  expect(before.repo).toMatchObject({ repo: { name: 'acme', distributions: { stable: { components: ['main'] } }, snapshot: { seq: 1 } } });
  expect(before.objects.filter(([k]) => k.startsWith('repos/acme/blobs/'))).toHaveLength(1);
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

test('the good packages of the batches are accepted on their own, together', async () => {
  // In an app of its own: the repository under test must not change.
  const other = await testApp();
  await other.request('/api/v1/repos', { method: 'POST', body: JSON.stringify({ name: 'acme' }) });
  const res = await other.request(UPLOAD, { method: 'POST', body: form(['file', fresh, 'fresh.deb'], ['file', fresh2, 'fresh-two.deb']) });
  expect(res.status).toBe(201);
  const body = (await res.json()) as { packages: { package: string }[] };
  expect(body.packages.map((p) => p.package)).toEqual(['fresh', 'fresh-two']);
});

describe('every malformed .deb is refused, alone and in a batch, leaving the repository unchanged', () => {
  test('the corpus is all there', () => {
    expect(cases.length).toBeGreaterThanOrEqual(66);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });

  test.each(cases.map((c) => [c.name, c] as const))('%s', async (name, { bytes, code }) => {
    const deb = await bytes();

    const raw = await t.request(UPLOAD, { method: 'POST', body: deb, headers: { 'content-type': DEB_TYPE } });
    const rawMessage = await expectError(raw, 422, code, 'raw body');
    // A raw body is named "body" in messages; what follows is the inspector's diagnosis.
    expect(rawMessage, 'raw body: message').toMatch(/^body: ./);
    await expectUnchanged('after the raw upload');

    const filename = `${name.replace(/[^A-Za-z0-9]+/g, '-')}.deb`;
    const batch = await t.request(UPLOAD, { method: 'POST', body: form(['file', fresh, 'fresh_2.0_all.deb'], ['file', deb, filename]) });
    const batchMessage = await expectError(batch, 422, code, 'multipart batch');
    // Names the bad file, then says what the raw upload said about the same bytes.
    expect(batchMessage, 'multipart batch: message').toBe(`${filename}: ${rawMessage.slice('body: '.length)}`);
    await expectUnchanged('after the multipart batch');
  });
});

describe('requests malformed at the HTTP level are refused, leaving the repository unchanged', () => {
  type Case = [name: string, make: () => Promise<[path: string, init: RequestInit & { token?: string | null }]>, status: number, code: string];
  const multipart = async (body: Uint8Array<ArrayBuffer>, type: string): Promise<[string, RequestInit]> => [UPLOAD, { method: 'POST', body, headers: { 'content-type': type } }];
  const good = (): RequestInit => ({ method: 'POST', body: fresh, headers: { 'content-type': DEB_TYPE } });
  const pair = () => encode(form(['file', fresh, 'fresh.deb'], ['file', fresh2, 'fresh-two.deb']));
  /** Where the n-th (0-based) package's bytes start in an encoded batch. */
  const packageStart = (body: Uint8Array, n: number) => {
    let at = -1;
    for (let i = 0; i <= n; i++) at = Buffer.from(body.buffer, body.byteOffset, body.length).indexOf('!<arch>\n', at + 1);
    expect(at).toBeGreaterThan(0);
    return at;
  };

  const requests: Case[] = [
    ['no body at all', async () => [UPLOAD, { method: 'POST' }], 400, 'no-files'],
    ['an empty raw body', async () => [UPLOAD, { method: 'POST', body: new Uint8Array(0), headers: { 'content-type': DEB_TYPE } }], 422, 'not-ar-archive'],
    ['multipart with no parts', async () => [UPLOAD, { method: 'POST', body: new FormData() }], 400, 'no-files'],
    ['multipart with only a text field', async () => [UPLOAD, { method: 'POST', body: form(['comment', 'no package here']) }], 400, 'no-files'],
    ['multipart with the package under another field name', async () => [UPLOAD, { method: 'POST', body: form(['package', fresh, 'fresh.deb']) }], 400, 'no-files'],
    ['multipart content type without a boundary', async () => multipart((await pair()).body, 'multipart/form-data'), 400, 'bad-multipart'],
    ['multipart boundary that is not in the body', async () => multipart((await pair()).body, 'multipart/form-data; boundary=not-the-one-used'), 400, 'bad-multipart'],
    ['multipart cut inside the first package', async () => {
      const { body, type } = await pair();
      return multipart(body.slice(0, packageStart(body, 0) + (fresh.length >> 1)), type);
    }, 400, 'bad-multipart'],
    ['multipart cut inside the second package', async () => {
      const { body, type } = await pair();
      return multipart(body.slice(0, packageStart(body, 1) + (fresh2.length >> 1)), type);
    }, 400, 'bad-multipart'],
    ['multipart cut right after the last package', async () => {
      const { body, type } = await pair();
      return multipart(body.slice(0, packageStart(body, 1) + fresh2.length), type);
    }, 400, 'bad-multipart'],
    ['multipart without the closing "--"', async () => {
      const { body, type } = await pair();
      const end = new TextDecoder('latin1').decode(body).lastIndexOf('--\r\n');
      expect(end).toBe(body.length - 4);
      return multipart(body.slice(0, end), type);
    }, 400, 'bad-multipart'],
    ['missing distribution parameter', async () => ['/api/v1/repos/acme/packages?component=main', good()], 400, 'missing-parameter'],
    ['empty distribution parameter', async () => ['/api/v1/repos/acme/packages?distribution=&component=main', good()], 400, 'missing-parameter'],
    ['distribution "../x"', async () => [`/api/v1/repos/acme/packages?distribution=${encodeURIComponent('../x')}`, good()], 400, 'invalid-distribution'],
    ['distribution "stable/updates"', async () => [`/api/v1/repos/acme/packages?distribution=${encodeURIComponent('stable/updates')}`, good()], 400, 'invalid-distribution'],
    ['component "../main"', async () => [`/api/v1/repos/acme/packages?distribution=stable&component=${encodeURIComponent('../main')}`, good()], 400, 'invalid-component'],
    ['component "Main"', async () => ['/api/v1/repos/acme/packages?distribution=stable&component=Main', good()], 400, 'invalid-component'],
    ['unknown repository', async () => ['/api/v1/repos/nope/packages?distribution=stable&component=main', good()], 404, 'repo-not-found'],
    ['invalid repository name', async () => ['/api/v1/repos/ACME/packages?distribution=stable&component=main', good()], 400, 'invalid-repo-name'],
    ['no admin token', async () => [UPLOAD, { ...good(), token: null }], 401, 'unauthenticated'],
    ['a wrong admin token', async () => [UPLOAD, { ...good(), token: 'not-the-token' }], 401, 'invalid-credentials'],
  ];

  test.each(requests)('%s', async (_, make, status, code) => {
    const [url, init] = await make();
    await expectError(await t.request(url, init), status, code, `${init.method ?? 'GET'} ${url}`);
    await expectUnchanged('after the request');
  });

  test('a truncated batch names the file it was reading', async () => {
    const { body, type } = await pair();
    const [url, init] = await multipart(body.slice(0, packageStart(body, 1) + 10), type);
    expect(await expectError(await t.request(url, init), 400, 'bad-multipart', 'truncated batch')).toMatch(/^fresh-two\.deb: /);
    await expectUnchanged('after the request');
  });
});
