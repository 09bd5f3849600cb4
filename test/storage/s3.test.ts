// What the S3 backend adds to the storage contract (which it passes: contract.test.ts), against
// Ceph's radosgw: the keys Debian and RPM versions make, paging, and its configuration.
import { afterAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { S3Storage, s3Config, type S3Config } from '../../src/storage/s3.js';
import { readBytes, readText } from '../../src/storage/types.js';
import { emptyS3 } from '../helpers/radosgw.js';

describe('s3 storage', () => {
  it('keeps keys with the characters package versions use', async () => {
    const s = await emptyS3();
    const keys = ['pool/main/p/pkg/pkg_1:2.0+deb12u1~rc1_amd64.deb', 'pool/a b/%41&=?#.rpm', 'pool/ünï/cödé'];
    for (const key of keys) {
      expect((await s.put(key, key))?.size).toBe(new TextEncoder().encode(key).length);
      expect(await readText(s, key)).toBe(key);
      expect((await s.touch(key))?.key).toBe(key);
    }
    const listed = [];
    for await (const obj of s.list('pool/')) listed.push(obj.key);
    expect(listed.sort()).toEqual([...keys].sort());
    for (const key of keys) await s.delete(key);
    expect(await s.head(keys[0]!)).toBeNull();
  });

  it('follows continuation tokens through every page of a listing', async () => {
    const s = (await emptyS3({ maxKeys: 2 })) as S3Storage;
    const keys = ['r/a/1', 'r/a/2', 'r/b/1', 'r/c/1', 'r/d/1', 'r/e/1', 'r/f'];
    await Promise.all(keys.map((key) => s.put(key, 'x')));
    const listed = [];
    for await (const obj of s.list('r/')) listed.push(obj.key);
    expect(listed.sort()).toEqual(keys);
    const folders = [];
    for await (const name of s.listFolders('r/')) folders.push(name);
    expect(folders.sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('answers the same bare etag from put, head and list, and swaps with any of them', async () => {
    const s = await emptyS3();
    const written = await s.put('head.json', '{"v":1}', { ifNoneMatch: '*' });
    expect(written?.etag).toMatch(/^[^"]+$/); // Ceph's If-Match compares without the quotes
    expect((await s.head('head.json'))?.etag).toBe(written!.etag);
    const listed = [];
    for await (const obj of s.list('')) listed.push(obj);
    expect(listed.map((o) => [o.key, o.etag, o.size])).toEqual([['head.json', written!.etag, 7]]);
    expect(await s.put('head.json', '{"v":2}', { ifMatch: listed[0]!.etag })).not.toBeNull();
    expect(await readText(s, 'head.json')).toBe('{"v":2}');
  });

  it('keeps no more of a streamed part in memory than the socket is sending', async () => {
    // The ArrayBuffers still alive after a collection, as the part's bytes are produced: Node's
    // fetch once kept every byte sent (a tee of the body, for a redirect) until the answer.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const MiB = 1024 * 1024;
    const size = 48 * MiB;
    gc();
    const base = process.memoryUsage().arrayBuffers;
    let peak = 0;
    let at = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at >= size) return controller.close();
        if (at % (4 * MiB) === 0) {
          gc();
          peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
        }
        at += 64 * 1024;
        controller.enqueue(new Uint8Array(64 * 1024).fill(at % 251));
      },
    });
    const s = await emptyS3();
    const id = await s.createMultipart('blobs/streamed');
    expect((await s.putPart('blobs/streamed', id, 1, body, size)).size).toBe(size);
    await s.abortMultipart('blobs/streamed', id);
    expect(peak).toBeLessThan(8 * MiB);
  });

  it('reads its location and credentials from an s3:// URL and the AWS variables', async () => {
    const env = { AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK', AWS_ENDPOINT_URL: 'http://127.0.0.1:9000/', AWS_SESSION_TOKEN: 'ST' };
    expect(() => S3Storage.fromUrl('s3://', env)).toThrow(/s3:\/\/BUCKET/);
    expect(() => S3Storage.fromUrl('s3://bucket', {})).toThrow(/AWS_ACCESS_KEY_ID/);
    expect(s3Config('s3://bucket/some/prefix/', env)).toMatchObject({ bucket: 'bucket', prefix: 'some/prefix/', endpoint: 'http://127.0.0.1:9000/', sessionToken: 'ST' });
    // Where requests go: path-style with an endpoint, virtual-hosted on AWS.
    const sent = async (config: S3Config) => {
      let request: Request | undefined;
      await new S3Storage({ ...config, fetch: async (r) => ((request = r), new Response(null, { status: 404 })) }).head('a b/c');
      return [request!.url, request!.headers.get('x-amz-security-token'), /Credential=AK\/\d{8}\/([^/]+)\//.exec(request!.headers.get('authorization')!)?.[1]];
    };
    expect(await sent(s3Config('s3://bucket/p', env))).toEqual(['http://127.0.0.1:9000/bucket/p/a%20b/c', 'ST', 'us-east-1']);
    expect(await sent(s3Config('s3://bucket', { AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK', AWS_REGION: 'eu-west-1' }))).toEqual([
      'https://bucket.s3.eu-west-1.amazonaws.com/a%20b/c',
      null,
      'eu-west-1',
    ]);
  });
});

// S3Storage inside workerd (Miniflare), against the same radosgw: bodies of unknown length, as
// a Worker gets them, and parts through FixedLengthStream. Answers JSON, {ok} or {error}.
const workerEntry = `
import { S3Storage } from '../../src/storage/s3.ts';

function generated(size) {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= size) return controller.close();
      const chunk = new Uint8Array(Math.min(100_000, size - at));
      for (let i = 0; i < chunk.length; i++) chunk[i] = (at + i) % 251;
      at += chunk.length;
      controller.enqueue(chunk);
    },
  });
}

export default {
  async fetch(request, env) {
    const { op, config, key, size, uploadId, part, declared } = await request.json();
    const storage = new S3Storage(config);
    try {
      if (op === 'put') return Response.json({ ok: await storage.put(key, generated(size)) });
      if (op === 'putPart') return Response.json({ ok: await storage.putPart(key, uploadId, part, generated(size), declared ?? size) });
      return Response.json({ error: 'no operation ' + op });
    } catch (err) {
      return Response.json({ error: err.message, code: err.code });
    }
  },
};
`;

describe('s3 storage inside workerd', () => {
  const MiB = 1024 * 1024;
  const pattern = (size: number) => new Uint8Array(size).map((_, i) => i % 251);
  let miniflare: Promise<Miniflare> | undefined;
  afterAll(async () => (await miniflare)?.dispose());
  const call = async (op: string, s: S3Storage, args: object) => {
    miniflare ??= (async () => {
      const bundle = await build({
        stdin: { contents: workerEntry, resolveDir: fileURLToPath(new URL('.', import.meta.url)), loader: 'js' },
        bundle: true,
        format: 'esm',
        target: 'es2022',
        write: false,
      });
      return new Miniflare({ modules: true, script: bundle.outputFiles[0]!.text, compatibilityDate: '2025-09-01' });
    })();
    const config = (s as unknown as { config: object }).config;
    const res = await (await miniflare).dispatchFetch('http://worker/', { method: 'POST', body: JSON.stringify({ op, config, ...args }) });
    return (await res.json()) as { ok?: { size: number; etag: string; part?: number }; error?: string; code?: string };
  };

  it('streams a body of unknown length: one put when it fits a part, 8 MiB parts when not', async () => {
    const s = await emptyS3();
    const small = await call('put', s, { key: 's/small', size: 1000 });
    expect(small.ok?.size).toBe(1000);
    expect(small.ok?.etag).not.toContain('-');
    const big = 2 * 8 * MiB + 5;
    const { ok } = await call('put', s, { key: 's/big', size: big });
    expect(ok?.size).toBe(big);
    expect(ok?.etag).toMatch(/-3$/); // a multipart object's etag: "<md5 of the part md5s>-<parts>"
    expect(Buffer.from((await readBytes(s, 's/big'))!).equals(pattern(big))).toBe(true);
  });

  it('writes parts from streams through FixedLengthStream, failing those of another size', async () => {
    const s = await emptyS3();
    const id = await s.createMultipart('blobs/parts');
    const first = await call('putPart', s, { key: 'blobs/parts', uploadId: id, part: 1, size: 5 * MiB });
    const last = await call('putPart', s, { key: 'blobs/parts', uploadId: id, part: 2, size: 1000 });
    expect([first.ok?.part, first.ok?.size, last.ok?.part, last.ok?.size]).toEqual([1, 5 * MiB, 2, 1000]);
    expect(await call('putPart', s, { key: 'blobs/parts', uploadId: id, part: 3, size: 5, declared: 6 })).toMatchObject({ code: 'part-size-mismatch' });
    expect(await call('putPart', s, { key: 'blobs/parts', uploadId: id, part: 3, size: 7, declared: 6 })).toMatchObject({ code: 'part-size-mismatch' });
    expect(await call('putPart', s, { key: 'blobs/parts', uploadId: 'no-such-upload', part: 1, size: 5 })).toMatchObject({ code: 'upload-not-found' });
    const info = await s.completeMultipart('blobs/parts', id, [first.ok, last.ok] as never);
    expect(info.size).toBe(5 * MiB + 1000);
    const expected = new Uint8Array(5 * MiB + 1000);
    expected.set(pattern(5 * MiB));
    expected.set(pattern(1000), 5 * MiB);
    expect(Buffer.from((await readBytes(s, 'blobs/parts'))!).equals(expected)).toBe(true);
  });
});
