// The module packer against GNU tar: long and non-ASCII names, determinism, loops.
import { describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { packDirectory } from '../../src/cli/tar-pack.js';
import { runOk } from '../helpers/exec.js';

async function packed(dir: string): Promise<Buffer> {
  const { stream } = await packDirectory(dir);
  const chunks: Buffer[] = [];
  for await (const chunk of Readable.fromWeb(stream as import('node:stream/web').ReadableStream<Uint8Array>)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('packDirectory', () => {
  it('writes names over 100 bytes (a pax header) and non-ASCII names that tar unpacks, the same bytes every time', async () => {
    const work = await mkdtemp(join(tmpdir(), 'packyard-tar-'));
    const dir = join(work, 'mod');
    const long = `${'a'.repeat(80)}/${'b'.repeat(90)}/ünïcödé-${'c'.repeat(40)}.tf`;
    await mkdir(join(dir, long, '..'), { recursive: true });
    await writeFile(join(dir, long), 'long\n');
    await writeFile(join(dir, 'main.tf'), 'main\n');
    const bytes = await packed(dir);
    expect(await packed(dir)).toEqual(bytes);
    await writeFile(join(work, 'm.tar.gz'), bytes);
    await mkdir(join(work, 'out'));
    await runOk('tar', ['-xzf', join(work, 'm.tar.gz'), '-C', join(work, 'out')]);
    expect(await readFile(join(work, 'out', long), 'utf8')).toBe('long\n');
    expect(await readFile(join(work, 'out', 'main.tf'), 'utf8')).toBe('main\n');
  });

  it('refuses a link to a directory that contains it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'packyard-tar-'));
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'sub', 'main.tf'), '\n');
    await symlink('..', join(dir, 'sub', 'up'));
    await expect(packDirectory(dir)).rejects.toThrow(/up: a symbolic link to a directory that contains it/);
  });
});
