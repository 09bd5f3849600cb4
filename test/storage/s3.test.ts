// What the S3 backend adds to the storage contract (which it passes: contract.test.ts), against
// Ceph's radosgw: the keys Debian and RPM versions make, paging, and its configuration.
import { describe, expect, it } from 'vitest';
import { S3Storage } from '../../src/storage/s3.js';
import { readText } from '../../src/storage/types.js';
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

  it('reads its location and credentials from an s3:// URL and the AWS variables', () => {
    const env = { AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK', AWS_ENDPOINT_URL: 'http://127.0.0.1:9000/' };
    expect(() => S3Storage.fromUrl('s3://', env)).toThrow(/s3:\/\/BUCKET/);
    expect(() => S3Storage.fromUrl('s3://bucket', {})).toThrow(/AWS_ACCESS_KEY_ID/);
    const urls: string[] = [];
    const capture = (url: string) => {
      const s = S3Storage.fromUrl(url, env) as unknown as { base: string; prefix: string };
      urls.push(`${s.base} ${s.prefix}`);
    };
    capture('s3://bucket');
    capture('s3://bucket/some/prefix/');
    expect(urls).toEqual(['http://127.0.0.1:9000/bucket ', 'http://127.0.0.1:9000/bucket some/prefix/']);
    const aws = S3Storage.fromUrl('s3://bucket', { AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK', AWS_REGION: 'eu-west-1' }) as unknown as { base: string };
    expect(aws.base).toBe('https://bucket.s3.eu-west-1.amazonaws.com');
  });
});
