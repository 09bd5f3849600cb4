import * as openpgp from 'openpgp';

/** Signs Release files with every configured key at once, so keys can be rotated without a gap. */
export class Signer {
  private constructor(
    private readonly keys: openpgp.PrivateKey[],
    /** Public keys, binary, concatenated (what `signed-by` takes). */
    readonly publicKeyBinary: Uint8Array,
    /** Public keys, ASCII-armored. */
    readonly publicKeyArmored: string,
  ) {}

  static async fromArmored(armoredKeys: string[]): Promise<Signer> {
    if (armoredKeys.length === 0) throw new Error('no signing key configured');
    const keys = await Promise.all(armoredKeys.map((armoredKey) => openpgp.readPrivateKey({ armoredKey })));
    const publics = keys.map((k) => k.toPublic());
    const binaries = publics.map((k) => k.write());
    const total = binaries.reduce((n, b) => n + b.length, 0);
    const binary = new Uint8Array(total);
    let offset = 0;
    for (const b of binaries) {
      binary.set(b, offset);
      offset += b.length;
    }
    // With its CRC24 line, as OpenPGP.js writes a v4 key on its own: Debian 12's gpg refuses a
    // block with neither that line nor base64 padding, i.e. keys a multiple of three bytes long
    // (about one Ed25519 key in forty), and dnf then imports no key. RFC 9580 drops the line for v6.
    const checksum = keys.every((k) => k.keyPacket.version !== 6);
    const armored = openpgp.armor(openpgp.enums.armor.publicKey, binary, undefined, undefined, undefined, checksum);
    return new Signer(keys, binary, armored);
  }

  get fingerprints(): string[] {
    return this.keys.map((k) => k.getFingerprint().toUpperCase());
  }

  /** Each public key on its own, armored, with its fingerprint (Terraform lists each signing key). */
  get publicKeys(): { fingerprint: string; armored: string }[] {
    return this.keys.map((k) => ({ fingerprint: k.getFingerprint().toUpperCase(), armored: k.toPublic().armor() }));
  }

  /** A binary detached signature over the exact bytes (Terraform's `SHA256SUMS.sig`). */
  async detachSignBinary(data: Uint8Array): Promise<Uint8Array> {
    const message = await openpgp.createMessage({ binary: data });
    return openpgp.sign({ message, signingKeys: this.keys, detached: true, format: 'binary' }) as Promise<Uint8Array>;
  }

  /** `InRelease`: the text clear-signed. */
  async clearSign(text: string): Promise<string> {
    const message = await openpgp.createCleartextMessage({ text });
    const signed = await openpgp.sign({ message, signingKeys: this.keys, format: 'armored' });
    // OpenPGP.js writes the text with CRLF line ends; apt expects the file's own LF. The
    // signature covers the canonical (CRLF) form either way, so verification is unaffected.
    return signed.replace(/\r\n/g, '\n');
  }

  /** `Release.gpg`: an armored detached signature over the exact bytes. */
  async detachSign(data: Uint8Array): Promise<string> {
    const message = await openpgp.createMessage({ binary: data });
    return openpgp.sign({ message, signingKeys: this.keys, detached: true, format: 'armored' });
  }
}
