import { toHex } from '../util/hash.js';
import { sendStream } from './send-stream.js';
import { githubActionsToken } from './github-oidc.js';

export interface ClientOptions {
  url?: string;
  token?: string;
  /** In GitHub Actions: authenticate with the job's OIDC token for this audience. */
  oidcAudience?: string;
  data?: string;
  storage?: string;
}

/** Speaks the HTTP API, to a server (`--url`) or to a store through the same app in-process (`--data`, `--storage`). */
export interface ApiClient {
  request(method: string, path: string, init?: { json?: unknown; body?: BodyInit; headers?: Record<string, string> }): Promise<unknown>;
}

export class CliError extends Error {
  constructor(
    message: string,
    /** The HTTP status of an error answer from the server. */
    readonly status?: number,
  ) {
    super(message);
  }
}

export async function connect(options: ClientOptions): Promise<ApiClient> {
  const url = options.url ?? process.env.PACKYARD_URL;
  if (url) {
    const audience = options.oidcAudience ?? process.env.PACKYARD_OIDC_AUDIENCE;
    const token = options.token ?? (process.env.PACKYARD_TOKEN || (audience ? await githubActionsToken(audience) : undefined));
    return client((path, init) => {
      const target = new URL(path, url.endsWith('/') ? url : `${url}/`);
      return init.body instanceof ReadableStream ? sendStream(target, init.method!, init.headers as Record<string, string>, init.body) : fetch(target, init);
    }, token);
  }
  // Loaded here, not at start: the commands that never reach the HTTP app start faster.
  const [{ openStore }, { locationOf }, { AdminToken }, { Access }, { createApp }] = await Promise.all([
    import('../hosts/node/runtime.js'),
    import('../hosts/node/store-location.js'),
    import('../auth/admin-token.js'),
    import('../auth/access.js'),
    import('../http/app.js'),
  ]);
  const runtime = await openStore(locationOf(options));
  // In-process calls are as trusted as the user who can read the store.
  const token = toHex(crypto.getRandomValues(new Uint8Array(16)));
  const { admin } = await AdminToken.load(runtime.storage, token);
  const app = createApp({ service: runtime.service, signer: runtime.signer, sources: runtime.sources, access: new Access(runtime.storage, admin) });
  return client(async (path, init) => app.request(`/${path}`, init), token);
}

function client(send: (path: string, init: RequestInit) => Promise<Response>, token?: string): ApiClient {
  return {
    async request(method, path, init = {}) {
      const headers: Record<string, string> = { ...init.headers };
      if (token) headers.authorization = `Bearer ${token}`;
      let body = init.body;
      if (init.json !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(init.json);
      }
      const response = await send(path.replace(/^\//, ''), { method, headers, body, duplex: 'half' } as RequestInit);
      const text = await response.text();
      const parsed = text ? safeJson(text) : null;
      if (!response.ok) {
        const error = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
        throw new CliError(error ? `${error.message} (${response.status} ${error.code})` : `HTTP ${response.status}: ${text.slice(0, 200)}`, response.status);
      }
      return parsed;
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
