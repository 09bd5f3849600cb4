// checkProviderArchive: the executable Terraform looks for (zh:, the zip's SHA-256, is the upload's own hash: registry.test.ts).
import { zipSync } from 'fflate';
import { describe, expect, test } from 'vitest';
import { checkProviderArchive } from '../../../src/formats/terraform/provider-archive.js';
import { packyardError } from '../../helpers/errors.js';

const exe = new TextEncoder().encode('\x7fELF pretend provider');
const linux = { type: 'widget', version: '1.2.3', os: 'linux', arch: 'amd64' };
const windows = { ...linux, os: 'windows' };
const zip = (...names: string[]) => zipSync(Object.fromEntries(names.map((name) => [name, exe])));

describe('checkProviderArchive', () => {
  test('accepts the names Terraform finds: bare, with _v<version>, with _x<protocol>, .exe on Windows', async () => {
    for (const name of ['terraform-provider-widget', 'terraform-provider-widget_v1.2.3', 'terraform-provider-widget_v1.2.3_x5']) {
      expect((await checkProviderArchive(zip('LICENSE', name), linux)).executable).toBe(name);
    }
    expect((await checkProviderArchive(zip('terraform-provider-widget_v1.2.3.exe'), windows)).executable).toBe('terraform-provider-widget_v1.2.3.exe');
  });

  test('refuses (422 bad-provider) another type or version, a nested or empty file, .exe off Windows and none on it, naming what it expects', async () => {
    const cases: [Uint8Array, typeof linux][] = [
      [zip('terraform-provider-gadget'), linux],
      [zip('terraform-provider-widget_v1.2.4'), linux],
      [zip('terraform-provider-widgetx'), linux],
      [zip('bin/terraform-provider-widget'), linux],
      [zipSync({ 'terraform-provider-widget': new Uint8Array(0) }), linux],
      [zip('terraform-provider-widget.exe'), linux],
      [zip('terraform-provider-widget_v1.2.3'), windows],
    ];
    for (const [archive, target] of cases) {
      const err = await packyardError(() => checkProviderArchive(archive, target));
      expect([err.status, err.code]).toEqual([422, 'bad-provider']);
      expect(err.message).toContain(`terraform-provider-widget_v1.2.3${target.os === 'windows' ? '.exe' : ''}`);
    }
    expect((await packyardError(() => checkProviderArchive(new TextEncoder().encode('not a zip'), linux))).code).toBe('bad-archive');
    expect((await packyardError(() => checkProviderArchive(zip('terraform-provider-widget', '../evil'), linux))).code).toBe('unsafe-path');
  });
});
