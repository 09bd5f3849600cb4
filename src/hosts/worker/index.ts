// The Cloudflare Worker host: the same app as `packyard serve`, over an R2 bucket (on-prem under
// workerd, over a directory). Publishes to a repository run in that repository's Durable Object
// (publish-coordinator.ts).
import type { Hono } from 'hono';
import { formats } from '../../formats/index.js';
import { DRAIN_LIMIT, createApp, dropUnreadBody, edgeClient } from '../../http/app.js';
import { errorResponse } from '../../http/errors.js';
import { WEBHOOK_LIMIT } from '../../http/api/sources.js';
import { AdminToken } from '../../auth/admin-token.js';
import { Access } from '../../auth/access.js';
import { RepositoryService } from '../../core/service.js';
import { Keyring } from '../../signing/keyring.js';
import { Signer } from '../../signing/signer.js';
import { importSigningKey } from '../../signing/keys.js';
import { R2Storage } from '../../storage/r2.js';
import { WorkerdDiskStorage } from '../../storage/workerd-disk.js';
import { S3Storage } from '../../storage/s3.js';
import type { Storage } from '../../storage/types.js';
import { createWorkerHasher } from './hasher.js';
import { publisherFor, type Publisher } from './routing.js';
import { PackyardError } from '../../util/errors.js';
import type { Env } from './env.js';
import { runCron } from './cron.js';

export { PublishCoordinator } from './publish-coordinator.js';

interface Isolate {
  app: Hono;
  access: Access;
}

let isolate: Promise<Isolate> | undefined;

/** One app per isolate, built on its first request: keys are read (or made) once, head reads cached. */
function isolateFor(env: Env): Promise<Isolate> {
  isolate ??= buildApp(env).catch((err: unknown) => {
    isolate = undefined;
    throw err;
  });
  return isolate;
}

export async function appFor(env: Env): Promise<Hono> {
  return (await isolateFor(env)).app;
}

async function buildApp(env: Env): Promise<Isolate> {
  const storage = storageFor(env);
  const signer = env.PACKYARD_SIGNING_KEY
    ? await Signer.fromArmored(await Promise.all(keyBlocks(env.PACKYARD_SIGNING_KEY).map(async (block) => (await importSigningKey(block, env.PACKYARD_SIGNING_KEY_PASSPHRASE)).armoredPrivateKey)))
    : // Without the secret, a key is made on first use and kept in the bucket. Two isolates starting
      // at the very same moment could each make one; set PACKYARD_SIGNING_KEY in production.
      (await new Keyring(storage).signer('Packyard repository signing key')).signer;
  const service = new RepositoryService({ formats, storage, signer, createHasher: createWorkerHasher, headTtlMs: Number(env.PACKYARD_HEAD_TTL_MS ?? 1000) });
  // No generated admin token here: there is nobody to show it to. Without the secret, writes get 401/403.
  const { admin } = await AdminToken.load(storage, env.PACKYARD_ADMIN_TOKEN || crypto.randomUUID());
  const access = new Access(storage, admin, { allowInsecureOidc: env.PACKYARD_OIDC_ALLOW_INSECURE === '1' });
  return { app: createApp({ service, signer, access, log: (entry) => console.log(JSON.stringify(entry)) }), access };
}

/**
 * A request for a repository's Durable Object is checked here first, before its body is streamed
 * on: one refused there unread would leave this Worker streaming a body nobody reads, which
 * workerd refuses by restarting the isolate. Without a credential that may at least read the
 * repository, the answer is given here at once and the body never read; the Object still checks
 * what the route itself needs.
 */
async function forward(request: Request, publisher: Publisher, { access }: Isolate): Promise<Response> {
  // GitHub's webhook carries no token: its signature is checked by the route, over a small body
  // (one declared larger is refused here, its body never read).
  if (new URL(request.url).pathname.endsWith('/github-webhook')) {
    if (Number(request.headers.get('content-length')) <= WEBHOOK_LIMIT) return publisher.fetch(request);
    await request.body?.cancel().catch(() => {});
    return errorResponse(new PackyardError(413, 'too-large', 'a webhook delivery is at most 5 MiB'));
  }
  try {
    const header = (name: string) => request.headers.get(name) ?? undefined;
    await access.require({ header, client: edgeClient(header) }, publisher.repo, 'read');
  } catch (err) {
    if (!(err instanceof PackyardError)) throw err;
    // A body that may be small is read to its end (up to DRAIN_LIMIT), as the app does: cancelled,
    // it made `wrangler dev` restart the isolate. One declared larger is cancelled, never waited for.
    if (Number(request.headers.get('content-length')) > DRAIN_LIMIT) await request.body?.cancel().catch(() => {});
    else await dropUnreadBody(request);
    return errorResponse(err);
  }
  return publisher.fetch(request);
}

/** R2 on Cloudflare; a directory served by a workerd disk service on-prem (deploy/workerd). */
function storageFor(env: Env): Storage {
  if (env.BUCKET) return new R2Storage(env.BUCKET);
  if (env.PACKYARD_STORAGE) return S3Storage.fromUrl(env.PACKYARD_STORAGE, env);
  if (env.DISK) return new WorkerdDiskStorage(env.DISK);
  throw new Error('no storage: bind an R2 bucket as BUCKET or a workerd disk service as DISK, or set PACKYARD_STORAGE=s3://BUCKET[/PREFIX] with AWS_* credentials');
}

/** The armored key blocks of a secret holding one key or several (every key signs, for rotation). */
function keyBlocks(secret: string): string[] {
  const end = '-----END PGP PRIVATE KEY BLOCK-----';
  return secret.split(end).filter((part) => part.includes('-----BEGIN')).map((part) => `${part.trim()}\n${end}\n`);
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const publisher = publisherFor(request, env);
    const current = await isolateFor(env);
    if (publisher) return forward(request, publisher, current);
    return current.app.fetch(request, env, ctx);
  },

  /** The cron triggers (wrangler.toml): see cron.ts. */
  async scheduled(event: ScheduledController, env: Env): Promise<void> {
    await runCron(event.cron, await appFor(env), env);
  },
} satisfies ExportedHandler<Env>;
