// packTarGz: what GNU tar unpacks from it, and the same bytes for the same files.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { packTarGz, type PackEntry } from '../../../src/formats/terraform/pack.js';
import { readModuleArchive } from '../../../src/formats/terraform/module-archive.js';
import { packyardError } from '../../helpers/errors.js';

const enc = new TextEncoder();
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'packyard-tf-pack-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const long = `${'a'.repeat(90)}/${'b'.repeat(90)}/${'c'.repeat(90)}/main.tf`; // too long for ustar's fields
const split = `${'p'.repeat(120)}/variables.tf`; // fits prefix + name
const entries: PackEntry[] = [
  { path: 'main.tf', bytes: enc.encode('variable "x" {}\n') },
  { path: 'modules/vpc/main.tf', bytes: enc.encode('locals {}\n'), mode: 0o600 },
  { path: 'scripts/run.sh', bytes: enc.encode('#!/bin/sh\n'), mode: 0o755 },
  { path: 'empty.txt', bytes: new Uint8Array(0) },
  { path: 'blob.bin', bytes: Uint8Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 251) },
  { path: long, bytes: enc.encode('# deep\n') },
  { path: split, bytes: enc.encode('# split\n') },
  { path: 'ünïcode.tf', bytes: enc.encode('# u\n') },
];

describe('packTarGz', () => {
  test('GNU tar unpacks every file with its bytes and mode, owned by 0/0 at time 0, in sorted order', async () => {
    const archive = packTarGz(entries);
    const file = path.join(dir, 'm.tar.gz');
    await writeFile(file, archive);
    const listing = execFileSync('tar', ['-tzvf', file, '--numeric-owner', '--utc'], { encoding: 'utf8' }).trim().split('\n');
    expect(listing.map((line) => line.split(/\s+/).slice(5).join(' '))).toEqual(entries.map((e) => e.path).sort());
    for (const line of listing) expect(line).toMatch(/^-\S+ 0\/0 +\d+ 1970-01-01 00:00 /);
    const out = path.join(dir, 'out');
    execFileSync('mkdir', ['-p', out]);
    execFileSync('tar', ['-xzf', file, '-C', out]);
    for (const entry of entries) {
      expect(new Uint8Array(await readFile(path.join(out, entry.path))), entry.path).toEqual(entry.bytes);
      expect((await stat(path.join(out, entry.path))).mode & 0o777, entry.path).toBe((entry.mode ?? 0o644) & ~process.umask());
    }
    // And readModuleArchive reads it back.
    const read = readModuleArchive(archive);
    expect(read.files.map((f) => [f.path, f.size, f.mode])).toEqual([...entries].sort((a, b) => (a.path < b.path ? -1 : 1)).map((e) => [e.path, e.bytes.length, e.mode ?? 0o644]));
  });

  test('is deterministic: the same files in any order give the same bytes', () => {
    const a = packTarGz(entries);
    const b = packTarGz([...entries].reverse().map((e) => ({ ...e, bytes: e.bytes.slice() })));
    expect(b).toEqual(a);
    expect(packTarGz([...entries.slice(1)])).not.toEqual(a);
  });

  test('refuses unsafe and repeated paths', async () => {
    for (const bad of ['../x.tf', '/etc/x.tf', 'a\\b.tf', '']) {
      expect((await packyardError(() => packTarGz([{ path: bad, bytes: new Uint8Array(1) }]))).code, bad).toBe('unsafe-path');
    }
    expect((await packyardError(() => packTarGz([{ path: 'a.tf', bytes: new Uint8Array(1) }, { path: './a.tf', bytes: new Uint8Array(2) }]))).code).toBe('duplicate-path');
  });
});
