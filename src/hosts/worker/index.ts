// The Cloudflare Worker host: the same app as `packyard serve`, over an R2 bucket. Publishes to a
// repository run in that repository's Durable Object (publish-coordinator.ts).
import type { Hono } from 'hono';
import { createApp } from '../../http/app.js';
import { AdminToken } from '../../auth/admin-token.js';
import { RepositoryService } from '../../repository/service.js';
import { Keyring } from '../../signing/keyring.js';
import { Signer } from '../../signing/signer.js';
import { importSigningKey } from '../../signing/keys.js';
import { R2Storage } from '../../storage/r2.js';
import { createWorkerHasher } from './hasher.js';
import { publisherFor } from './routing.js';
import type { Env } from './env.js';

export { PublishCoordinator } from './publish-coordinator.js';

let app: Promise<Hono> | undefined;

/** One app per isolate, built on its first request: keys are read (or made) once, head reads cached. */
export function appFor(env: Env): Promise<Hono> {
  app ??= buildApp(env).catch((err: unknown) => {
    app = undefined;
    throw err;
  });
  return app;
}

async function buildApp(env: Env): Promise<Hono> {
  const storage = new R2Storage(env.BUCKET);
  const signer = env.PACKYARD_SIGNING_KEY
    ? await Signer.fromArmored(await Promise.all(keyBlocks(env.PACKYARD_SIGNING_KEY).map(async (block) => (await importSigningKey(block, env.PACKYARD_SIGNING_KEY_PASSPHRASE)).armoredPrivateKey)))
    : // Without the secret, a key is made on first use and kept in the bucket. Two isolates starting
      // at the very same moment could each make one; set PACKYARD_SIGNING_KEY in production.
      (await new Keyring(storage).signer('Packyard repository signing key')).signer;
  const service = new RepositoryService({ storage, signer, createHasher: createWorkerHasher, headTtlMs: Number(env.PACKYARD_HEAD_TTL_MS ?? 1000) });
  // No generated admin token here: there is nobody to show it to. Without the secret, writes get 401/403.
  const { admin } = await AdminToken.load(storage, env.PACKYARD_ADMIN_TOKEN || crypto.randomUUID());
  return createApp({ service, signer, admin, log: (entry) => console.log(JSON.stringify(entry)) });
}

/** The armored key blocks of a secret holding one key or several (every key signs, for rotation). */
function keyBlocks(secret: string): string[] {
  const end = '-----END PGP PRIVATE KEY BLOCK-----';
  return secret.split(end).filter((part) => part.includes('-----BEGIN')).map((part) => `${part.trim()}\n${end}\n`);
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const publisher = publisherFor(request, env);
    if (publisher) return publisher.fetch(request);
    return (await appFor(env)).fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
