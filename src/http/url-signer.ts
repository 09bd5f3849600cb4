import { readJson, type Storage } from '../storage/types.js';
import { toHex } from '../util/hash.js';
import { urlSigningLayout } from './storage-keys.js';

/** How long a signed URL may be used: enough to start a download, short enough to be no lasting key. */
const TTL_SECONDS = 300;

/**
 * Short-lived URLs for clients that send no credentials where they download (Terraform sends its
 * registry token to the registry's API, never to `X-Terraform-Get` or a provider's download
 * URLs): an HMAC-SHA256 over the repository, the path and the expiry, with a key made on first
 * use and kept in storage, so every node and Worker isolate signs and checks alike.
 */
export class UrlSigner {
  private key?: Promise<CryptoKey>;

  constructor(
    private readonly storage: Storage,
    private readonly now: () => number = Date.now,
  ) {}

  /** The query (`expires=…&signature=…`) that lets anyone fetch `path` of `repo` for a few minutes. */
  async sign(repo: string, path: string): Promise<string> {
    const expires = Math.floor(this.now() / 1000) + TTL_SECONDS;
    const mac = new Uint8Array(await crypto.subtle.sign('HMAC', await this.cryptoKey(), message(repo, path, expires)));
    return `expires=${expires}&signature=${toHex(mac)}`;
  }

  /** Whether `query` carries a valid, unexpired signature for `path` of `repo` (compared in constant time). */
  async verify(repo: string, path: string, query: string): Promise<boolean> {
    const params = new URLSearchParams(query);
    const expires = Number(params.get('expires'));
    const signature = params.get('signature') ?? '';
    if (!Number.isSafeInteger(expires) || expires * 1000 < this.now() || !/^[0-9a-f]{64}$/.test(signature)) return false;
    const mac = Uint8Array.from(signature.match(/../g)!, (h) => parseInt(h, 16));
    return crypto.subtle.verify('HMAC', await this.cryptoKey(), mac, message(repo, path, expires));
  }

  private cryptoKey(): Promise<CryptoKey> {
    this.key ??= this.load().catch((err: unknown) => {
      this.key = undefined;
      throw err;
    });
    return this.key;
  }

  private async load(): Promise<CryptoKey> {
    let stored = await readJson<{ schema: number; key: string }>(this.storage, urlSigningLayout.key);
    if (!stored) {
      const fresh = { schema: 1, key: toHex(crypto.getRandomValues(new Uint8Array(32))) };
      // Create-only: two processes starting at once keep the first one's key.
      const written = await this.storage.put(urlSigningLayout.key, JSON.stringify(fresh), { ifNoneMatch: '*' }).catch(() => null);
      stored = written ? fresh : await readJson<{ schema: number; key: string }>(this.storage, urlSigningLayout.key);
      if (!stored) throw new Error('the URL signing key could not be made');
    }
    const raw = Uint8Array.from(stored.key.match(/../g)!, (h) => parseInt(h, 16));
    return crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  }
}

function message(repo: string, path: string, expires: number): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${repo}\n${path}\n${expires}`) as Uint8Array<ArrayBuffer>;
}
