import type { Storage } from '../storage/types.js';
import { readText } from '../storage/types.js';
import { signingLayout } from './storage-keys.js';
import { generateSigningKey, importSigningKey, type KeyAlgorithm } from './keys.js';
import { Signer } from './signer.js';

/** The server's signing keys, kept in storage; every key present signs every Release. */
export class Keyring {
  constructor(private readonly storage: Storage) {}

  async armoredKeys(): Promise<string[]> {
    const keys: string[] = [];
    const infos = [];
    for await (const info of this.storage.list(signingLayout.signingKeysPrefix)) infos.push(info);
    infos.sort((a, b) => a.key.localeCompare(b.key));
    for (const info of infos) {
      const text = await readText(this.storage, info.key);
      if (text) keys.push(text);
    }
    return keys;
  }

  async fingerprints(): Promise<string[]> {
    const out: string[] = [];
    for await (const info of this.storage.list(signingLayout.signingKeysPrefix)) out.push(info.key.slice(signingLayout.signingKeysPrefix.length).replace(/\.asc$/, ''));
    return out.sort();
  }

  async generate(name: string, algorithm: KeyAlgorithm = 'ed25519'): Promise<string> {
    const key = await generateSigningKey(name, algorithm);
    await this.storage.put(signingLayout.signingKey(key.fingerprint), key.armoredPrivateKey);
    return key.fingerprint;
  }

  async import(armored: string, passphrase?: string): Promise<string> {
    const key = await importSigningKey(armored, passphrase);
    await this.storage.put(signingLayout.signingKey(key.fingerprint), key.armoredPrivateKey);
    return key.fingerprint;
  }

  async remove(fingerprint: string): Promise<boolean> {
    const key = signingLayout.signingKey(fingerprint.toUpperCase());
    if (!(await this.storage.head(key))) return false;
    await this.storage.delete(key);
    // A removed key must not linger as the claim of the first one.
    const claim = await readText(this.storage, signingLayout.firstKey);
    if (claim !== null && (await importSigningKey(claim)).fingerprint === fingerprint.toUpperCase()) await this.storage.delete(signingLayout.firstKey);
    return true;
  }

  /** A signer over the stored keys, generating a first key when there is none. */
  async signer(defaultName: string, algorithm: KeyAlgorithm = 'ed25519'): Promise<{ signer: Signer; generated?: string }> {
    let keys = await this.armoredKeys();
    let generated: string | undefined;
    if (keys.length === 0) {
      generated = await this.generateFirst(defaultName, algorithm);
      keys = await this.armoredKeys();
    }
    return { signer: await Signer.fromArmored(keys), generated };
  }

  /**
   * Several nodes started on one empty bucket must not each make a key (every node would sign
   * with its own, and the clients set up from one would refuse the others): the key is claimed
   * under one name with a create-only write, and whoever lost the race takes the winner's.
   * `generated` is only the winner's.
   */
  private async generateFirst(name: string, algorithm: KeyAlgorithm): Promise<string | undefined> {
    const key = await generateSigningKey(name, algorithm);
    const won = await this.storage.put(signingLayout.firstKey, key.armoredPrivateKey, { ifNoneMatch: '*' });
    const claimed = won ? key.armoredPrivateKey : await readText(this.storage, signingLayout.firstKey);
    if (claimed === null) return this.generateFirst(name, algorithm);
    const first = won ? key : await importSigningKey(claimed);
    await this.storage.put(signingLayout.signingKey(first.fingerprint), first.armoredPrivateKey, { ifNoneMatch: '*' });
    return won ? key.fingerprint : undefined;
  }
}
