import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, Server } from 'node:http';
import type { Context } from 'hono';
import { createApp } from '../../http/app.js';
import type { AdminToken } from '../../auth/admin-token.js';
import type { Runtime } from './runtime.js';
import { log } from './log.js';

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

/** Serves the web-standard app from Node's HTTP server. */
export async function startServer(runtime: Runtime, admin: AdminToken, host: string, port: number): Promise<RunningServer> {
  const app = createApp({ service: runtime.service, signer: runtime.signer, admin, log, readHeader: incomingHeader });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(s as Server));
    (s as Server).once('error', reject);
  });
  // Uploads of large packages can take long: no request timeout.
  server.requestTimeout = 0;
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Reads a header from Node's parsed request, which the adapter passes as `env.incoming`. */
function incomingHeader(c: Context, name: string): string | undefined {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (!incoming) return c.req.header(name);
  const value = incoming.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}
