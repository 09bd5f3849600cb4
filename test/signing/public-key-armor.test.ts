// The armored public key (`/<repo>/public.key`, dnf's gpgkey=, `packyard key export`) as gpg
// reads it. Debian 12's gpg refuses an armored block that has neither base64 padding nor a CRC24
// line ("no valid OpenPGP data found"), and a key's length varies by a byte with the leading zeros
// of its signatures' numbers: about one Ed25519 key in forty is a multiple of three bytes long.
// dnf imports no key from such a block, and reports every repomd.xml as "Bad GPG signature".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { generateSigningKey } from '../../src/signing/keys.js';
import { Signer } from '../../src/signing/signer.js';
import { run } from '../helpers/exec.js';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'packyard-key-armor-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A new key whose public part is `residue` bytes more than a multiple of three. */
async function keyOfLength(residue: number): Promise<string> {
  for (let i = 0; i < 2000; i++) {
    const { armoredPrivateKey } = await generateSigningKey('Packyard repository signing key');
    const length = (await openpgp.readPrivateKey({ armoredKey: armoredPrivateKey })).toPublic().write().length;
    if (length % 3 === residue) return armoredPrivateKey;
  }
  throw new Error(`no key of length ${residue} mod 3 in 2000`);
}

let imports = 0;
/** The fingerprints gpg imports from `armored`, in a new home directory. */
async function gpgImports(armored: string): Promise<string[]> {
  const home = join(work, `home-${imports++}`);
  await run('mkdir', ['-m', '700', home]);
  await writeFile(join(home, 'key.asc'), armored);
  const r = await run('gpg', ['--homedir', home, '--batch', '--status-fd', '1', '--import', join(home, 'key.asc')]);
  await run('gpgconf', ['--homedir', home, '--kill', 'all']);
  return [...r.stdout.matchAll(/^\[GNUPG:\] IMPORT_OK \d+ ([0-9A-F]{40})$/gm)].map((m) => m[1]!).sort();
}

describe("a signer's armored public keys", () => {
  it.each([
    ['one key, a multiple of three bytes long (no base64 padding)', [0]],
    ['one key of the common length', [1]],
    ['two keys, together a multiple of three bytes long (rotation)', [0, 0]],
  ])('%s: gpg imports every key', async (_, residues) => {
    const signer = await Signer.fromArmored(await Promise.all(residues.map(keyOfLength)));
    expect(await gpgImports(signer.publicKeyArmored)).toEqual([...signer.fingerprints].sort());
  }, 120_000);
});
