import { describe, expect, it } from 'vitest';
import * as openpgp from 'openpgp';
import { generateSigningKey, importSigningKey } from '../../src/signing/keys.js';
import { Signer } from '../../src/signing/signer.js';
import { PackyardError } from '../../src/util/errors.js';

const code = async (work: Promise<unknown>) => work.then(() => 'no error', (err) => (err instanceof PackyardError ? err.code : String(err)));

describe('signing keys', () => {
  it('imports a passphrase-protected key only with the right passphrase', async () => {
    const { privateKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'CI' }], passphrase: 's3cret', format: 'armored' });
    expect(await code(importSigningKey(privateKey))).toBe('key-encrypted');
    expect(await code(importSigningKey(privateKey, 'wrong'))).toBe('wrong-passphrase');
    expect(await code(importSigningKey('-----BEGIN PGP PRIVATE KEY BLOCK-----\nnonsense\n'))).toBe('invalid-key');
    const imported = await importSigningKey(privateKey, 's3cret');
    expect((await openpgp.readPrivateKey({ armoredKey: imported.armoredPrivateKey })).isDecrypted()).toBe(true);
  });

  it('generates Ed25519 (legacy encoding, for Debian 12 gpgv) and RSA 4096 keys', async () => {
    const ed = await openpgp.readPrivateKey({ armoredKey: (await generateSigningKey('a')).armoredPrivateKey });
    expect(ed.getAlgorithmInfo()).toMatchObject({ algorithm: 'eddsaLegacy', curve: 'ed25519Legacy' });
    const rsa = await openpgp.readPrivateKey({ armoredKey: (await generateSigningKey('b', 'rsa4096')).armoredPrivateKey });
    expect(rsa.getAlgorithmInfo()).toMatchObject({ algorithm: 'rsaEncryptSign', bits: 4096 });
  }, 120_000);

  it('signs with every key: a detached signature verifies with each public key alone', async () => {
    const keys = await Promise.all([generateSigningKey('one'), generateSigningKey('two')]);
    const signer = await Signer.fromArmored(keys.map((k) => k.armoredPrivateKey));
    const data = new TextEncoder().encode('Origin: x\n');
    const signature = await openpgp.readSignature({ armoredSignature: await signer.detachSign(data) });
    for (const key of keys) {
      const verificationKeys = (await openpgp.readPrivateKey({ armoredKey: key.armoredPrivateKey })).toPublic();
      const result = await openpgp.verify({ message: await openpgp.createMessage({ binary: data }), signature, verificationKeys, expectSigned: true });
      expect(result.data).toBeDefined();
    }
  });
});
