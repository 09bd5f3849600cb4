import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { describeLocation, locationOf, parseLocation, s3StorageAt } from '../../../src/hosts/node/store-location.js';
import { packyardError } from '../../helpers/errors.js';

describe('where a command finds its store', () => {
  it('reads s3:// as a bucket and anything else as a directory', () => {
    expect(parseLocation('s3://acme-packages/packyard/')).toEqual({ kind: 's3', url: 's3://acme-packages/packyard' });
    expect(parseLocation('s3://acme-packages')).toEqual({ kind: 's3', url: 's3://acme-packages' });
    expect(parseLocation('./data')).toEqual({ kind: 'dir', path: resolve('data') });
  });

  it('refuses what is neither, naming the forms it takes', async () => {
    for (const bad of ['s3://', 's3://A_B', 's3://x', 'https://bucket.example/']) {
      const err = await packyardError(() => parseLocation(bad));
      expect(err.code).toBe('bad-storage');
      expect(err.message).toContain('s3://BUCKET[/PREFIX]');
    }
  });

  it('takes a flag before the environment, PACKYARD_STORAGE before PACKYARD_DATA, ./packyard-data last', async () => {
    const env = { PACKYARD_STORAGE: 's3://from-env', PACKYARD_DATA: '/srv/data' };
    expect(locationOf({ data: '/flag' }, env)).toEqual({ kind: 'dir', path: '/flag' });
    expect(locationOf({ storage: 's3://flag-bucket' }, env)).toEqual({ kind: 's3', url: 's3://flag-bucket' });
    expect(locationOf({}, env)).toEqual({ kind: 's3', url: 's3://from-env' });
    expect(locationOf({}, { PACKYARD_DATA: '/srv/data' })).toEqual({ kind: 'dir', path: '/srv/data' });
    expect(locationOf({}, {})).toEqual({ kind: 'dir', path: resolve('packyard-data') });
    expect((await packyardError(() => locationOf({ data: '/a', storage: 's3://bbb' }, {}))).message).toBe('give --data DIR or --storage URL, not both');
  });

  it('shows a location as the flag that names it again', () => {
    expect(describeLocation({ kind: 's3', url: 's3://acme/p' })).toEqual({ shown: 's3://acme/p', flag: '--storage s3://acme/p' });
    expect(describeLocation({ kind: 'dir', path: '/srv/d' })).toEqual({ shown: '/srv/d', flag: '--data /srv/d' });
  });

  it('says which credentials a bucket lacks', async () => {
    const err = await packyardError(() => s3StorageAt({ kind: 's3', url: 's3://acme' }, {}));
    expect(err.status).toBe(400);
    expect(err.message).toContain('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
  });
});
