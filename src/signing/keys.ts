import * as openpgp from 'openpgp';
import { PackyardError } from '../util/errors.js';

export type KeyAlgorithm = 'ed25519' | 'rsa4096';

export interface GeneratedKey {
  armoredPrivateKey: string;
  fingerprint: string;
}

/**
 * Ed25519 keys are made in the legacy (RFC 4880bis) encoding: apt's gpgv on Debian 12
 * rejects the RFC 9580 Ed25519 keys that OpenPGP.js makes for `curve25519`.
 */
export async function generateSigningKey(name: string, algorithm: KeyAlgorithm = 'ed25519'): Promise<GeneratedKey> {
  const userIDs = [{ name }];
  const { privateKey } =
    algorithm === 'rsa4096'
      ? await openpgp.generateKey({ type: 'rsa', rsaBits: 4096, userIDs, format: 'armored' })
      : await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs, format: 'armored' });
  const key = await openpgp.readPrivateKey({ armoredKey: privateKey });
  return { armoredPrivateKey: privateKey, fingerprint: key.getFingerprint().toUpperCase() };
}

/** Reads an armored private key, decrypting it when a passphrase is given; returns it unlocked and re-armored. */
export async function importSigningKey(armored: string, passphrase?: string): Promise<GeneratedKey> {
  let key: openpgp.PrivateKey;
  try {
    key = await openpgp.readPrivateKey({ armoredKey: armored });
  } catch (err) {
    throw new PackyardError(400, 'invalid-key', `not an armored OpenPGP private key: ${(err as Error).message}`);
  }
  if (!key.isDecrypted()) {
    if (!passphrase) throw new PackyardError(400, 'key-encrypted', 'the private key is protected by a passphrase; give it with --passphrase');
    try {
      key = await openpgp.decryptKey({ privateKey: key, passphrase });
    } catch {
      throw new PackyardError(400, 'wrong-passphrase', 'the passphrase does not unlock the private key');
    }
  }
  try {
    await key.getSigningKey();
  } catch {
    throw new PackyardError(400, 'key-cannot-sign', 'the key has no usable signing (sub)key');
  }
  return { armoredPrivateKey: key.armor(), fingerprint: key.getFingerprint().toUpperCase() };
}
