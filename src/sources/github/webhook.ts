import { PackyardError } from '../../util/errors.js';

/** The `release` actions that change what a repository should hold. */
// (`created` is left out: a draft, which is never published.)
const RELEASE_ACTIONS = new Set(['published', 'edited', 'deleted', 'unpublished', 'released', 'prereleased']);

export type WebhookEvent = { kind: 'ping' } | { kind: 'change'; event: string; action: string; repository: string } | { kind: 'ignored'; reason: string };

/**
 * A delivery of GitHub's webhook, its `X-Hub-Signature-256` (HMAC-SHA256 of the raw body)
 * checked in constant time (Web Crypto's verify) before anything is read of it: forged,
 * unsigned or signed with another secret is a 401 and nothing happens.
 */
export async function readWebhook(secret: string | undefined, header: (name: string) => string | undefined, body: Uint8Array): Promise<WebhookEvent> {
  if (!secret) throw new PackyardError(401, 'webhook-not-configured', 'this repository has no source.github.webhookSecret: set one, and the same secret in GitHub');
  const signature = /^sha256=([0-9a-f]{64})$/i.exec(header('x-hub-signature-256') ?? '');
  if (!signature) throw new PackyardError(401, 'bad-signature', 'X-Hub-Signature-256 is missing or malformed');
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const mac = Uint8Array.from(signature[1]!.match(/../g)!, (h) => parseInt(h, 16));
  if (!(await crypto.subtle.verify('HMAC', key, mac, body as Uint8Array<ArrayBuffer>))) throw new PackyardError(401, 'bad-signature', 'X-Hub-Signature-256 does not match the body and the webhook secret');

  const event = header('x-github-event');
  if (event === 'ping') return { kind: 'ping' };
  if (event !== 'release' && event !== 'push' && event !== 'create' && event !== 'delete') return { kind: 'ignored', reason: `event ${event ?? '(none)'} changes nothing published` };
  let payload: { action?: unknown; ref?: unknown; ref_type?: unknown; repository?: { full_name?: unknown } };
  try {
    payload = JSON.parse(new TextDecoder().decode(body)) as typeof payload;
  } catch {
    throw new PackyardError(400, 'invalid-json', 'the webhook body is not JSON (set the content type to application/json in GitHub)');
  }
  const repository = typeof payload.repository?.full_name === 'string' ? payload.repository.full_name : '';
  if (event === 'release') {
    const action = typeof payload.action === 'string' ? payload.action : '';
    if (!RELEASE_ACTIONS.has(action)) return { kind: 'ignored', reason: `release action ${action || '(none)'} changes nothing published` };
    return { kind: 'change', event, action, repository };
  }
  // Tags are a Terraform module's versions: a tag pushed, created or deleted.
  const tag = event === 'push' ? typeof payload.ref === 'string' && payload.ref.startsWith('refs/tags/') : payload.ref_type === 'tag';
  if (!tag) return { kind: 'ignored', reason: `a ${event} of something other than a tag` };
  return { kind: 'change', event, action: event, repository };
}
