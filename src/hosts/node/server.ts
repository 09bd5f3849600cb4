import { getRequestListener, type HttpBindings } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { AddressInfo } from 'node:net';
import { createApp, originOf, rawPath } from '../../http/app.js';
import { RepoFiles } from '../../http/repo-files.js';
import { failureEntry, renderError } from '../../http/errors.js';
import type { ResponsePlan } from '../../http/serve-object.js';
import { Access } from '../../auth/access.js';
import type { AdminToken } from '../../auth/admin-token.js';
import { PackyardError } from '../../util/errors.js';
import type { Runtime } from './runtime.js';
import type { S3Storage } from '../../storage/s3.js';
import { log } from './log.js';
import { openFile, sendFile } from './send-file.js';
import { Connections, type ConnectionLimits } from './connections.js';

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves the web-standard app from Node's HTTP server. Reads of repository files, the bulk of
 * all traffic, take a direct path: the core decides the response (the same plan the app would
 * turn into a Response) and it is written with Node's own calls, pool files streamed from disk.
 */
export async function startServer(runtime: Runtime, admin: AdminToken, host: string, port: number, limits: ConnectionLimits, fileOptions: FileOptions = {}): Promise<RunningServer> {
  const access = new Access(runtime.storage, admin, { allowInsecureOidc: process.env.PACKYARD_OIDC_ALLOW_INSECURE === '1' });
  // Pool files go out by a presigned URL of the bucket, so none is answered from memory.
  const redirectVia = fileOptions.s3Redirect ? runtime.s3 : undefined;
  const files = new RepoFiles({ service: runtime.service, signer: runtime.signer, access, sources: runtime.sources, log, poolByKey: redirectVia !== undefined });
  const connections = new Connections(limits);
  const app = createApp({
    service: runtime.service,
    signer: runtime.signer,
    access,
    log,
    files,
    sources: runtime.sources,
    clientOf: (c) => getConnInfo(c).remote.address ?? 'unknown',
    identified: (c) => connections.authenticated((c.env as HttpBindings).incoming.socket),
  });
  const appListener = getRequestListener(app.fetch);

  const server = createServer(connections.serverOptions(), (req, res) => {
    connections.request(req, res);
    const url = req.url ?? '/';
    if ((req.method !== 'GET' && req.method !== 'HEAD') || url.startsWith('/api/') || url === '/healthz') return appListener(req, res);
    serveFile(files, runtime, req, res, connections, redirectVia).then(
      (served) => {
        if (!served) void appListener(req, res);
      },
      (err: unknown) => {
        if (err instanceof PackyardError && !res.headersSent) return void answerError(res, err);
        log(failureEntry(req.method, url, err));
        if (!res.headersSent) answerError(res, err);
        else res.destroy();
      },
    );
  });
  connections.attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function answerError(res: ServerResponse, err: unknown): void {
  const { status, headers, body } = renderError(err);
  res.writeHead(status, headers).end(body);
}

/** Writes a repository file; false when the request is not for one (the app then answers). */
async function serveFile(files: RepoFiles, runtime: Runtime, req: IncomingMessage, res: ServerResponse, connections: Connections, redirectVia: S3Storage | undefined): Promise<boolean> {
  const view = {
    method: req.method!,
    client: req.socket.remoteAddress ?? 'unknown',
    identified: () => connections.authenticated(req.socket),
    origin: () => originOf(`http://${req.headers.host ?? 'localhost'}`, view.header('x-forwarded-proto')),
    // Scans the raw headers: reading `req.headers` builds an object per request, a cost that
    // showed in InRelease requests per second.
    header(name: string) {
      const raw = req.rawHeaders;
      let value: string | undefined;
      for (let i = 0; i < raw.length; i += 2) {
        if (raw[i]!.length === name.length && raw[i]!.toLowerCase() === name) value = value === undefined ? raw[i + 1] : `${value}, ${raw[i + 1]}`;
      }
      return value;
    },
  };
  const target = req.url!;
  const q = target.indexOf('?');
  const plan = await files.planUrl(view, rawPath(target), q < 0 ? '' : target.slice(q + 1));
  if (!plan) return false;
  const writing = write(plan, { files, runtime, req, res, secure: () => view.origin().startsWith('https:'), redirectVia });
  if (writing) await writing;
  return true;
}

/** How files are written out: from disk, or from a bucket (then with `s3Redirect`, a GET by a presigned URL). */
export interface FileOptions {
  s3Redirect?: boolean;
}

/** How long a presigned URL of `--s3-redirect` lasts: long enough to start a slow download, short enough not to be shared. */
const PRESIGNED_SECONDS = 300;

/** Writes the answer; a promise only for a file, which is opened first (the hot path of small answers stays synchronous). */
function write(plan: ResponsePlan, target: FileTarget): Promise<void> | undefined {
  const { status, headers, body } = plan;
  const { res } = target;
  if (body === null) return void res.writeHead(status, headers).end();
  if ('bytes' in body) return void res.writeHead(status, headers).end(body.bytes);
  if ('stream' in body) return writeStream(status, headers, body.stream, res);
  return writeFile(status, headers, body, target);
}

interface FileTarget {
  files: RepoFiles;
  runtime: Runtime;
  req: IncomingMessage;
  res: ServerResponse;
  /** The client came over https (directly or through a proxy that says so); asked only before a redirect. */
  secure(): boolean;
  /** With `--s3-redirect`: the bucket whose presigned URLs answer GETs of files. */
  redirectVia: S3Storage | undefined;
}

/** A file passed through from elsewhere (a proxied release asset, an object in a bucket); a client that goes away cuts the download from the other host too. */
async function writeStream(status: number, headers: ResponsePlan['headers'], stream: ReadableStream<Uint8Array>, res: ServerResponse): Promise<void> {
  res.writeHead(status, headers);
  pipeline(Readable.fromWeb(stream as import('node:stream/web').ReadableStream<Uint8Array>), res).catch(() => res.destroy());
}

async function writeFile(status: number, headers: ResponsePlan['headers'], body: Extract<NonNullable<ResponsePlan['body']>, { key: string }>, target: FileTarget): Promise<void> {
  const { files, runtime, req, res } = target;
  const range = body.range ?? { offset: 0, length: body.size };
  if (runtime.fs) {
    // Opened before the status line: a file gone from disk is still a 404, not a cut connection.
    const file = await openFile(runtime.fs.filePath(body.key));
    if (!file) throw files.objects.missing(body.key);
    res.writeHead(status, headers);
    return void sendFile(file, range.offset, range.length, res).catch(() => res.destroy());
  }
  if (req.method === 'HEAD') {
    if (!(await runtime.storage.head(body.key))) throw files.objects.missing(body.key);
    return void res.writeHead(status, headers).end();
  }
  if (target.redirectVia) {
    const url = await target.redirectVia.presignedGet(body.key, PRESIGNED_SECONDS);
    // apt refuses a redirect from https to http: such a client gets the bytes through this node.
    if (!(url.startsWith('http:') && target.secure())) return void res.writeHead(302, { location: url, 'cache-control': 'no-store' }).end();
  }
  const obj = await runtime.storage.get(body.key, body.range);
  if (!obj) throw files.objects.missing(body.key);
  await writeStream(status, headers, obj.body, res);
}
