// A tiny static file server on loopback: the "nginx" of the infra smoke test, serving a
// repository made by apt-ftparchive so the apt helpers can be proven without Packyard.
// It records every request (method, path, status, Authorization) so tests can see what
// apt asked for, and can demand HTTP Basic credentials to exercise auth.conf.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface LoggedRequest {
  method: string;
  path: string;
  status: number;
  authorization?: string;
}

export interface StaticServer {
  url: string;
  requests: LoggedRequest[];
  close(): Promise<void>;
}

export async function serveStatic(root: string, opts: { basicAuth?: { user: string; password: string } } = {}): Promise<StaticServer> {
  const requests: LoggedRequest[] = [];
  const expected = opts.basicAuth
    ? 'Basic ' + Buffer.from(`${opts.basicAuth.user}:${opts.basicAuth.password}`).toString('base64')
    : undefined;
  const server = http.createServer(async (req, res) => {
    const urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const done = (status: number) =>
      requests.push({ method: req.method ?? '', path: urlPath, status, authorization: req.headers.authorization });
    if (expected && req.headers.authorization !== expected) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="test"' }).end();
      return done(401);
    }
    const file = path.join(root, path.normalize(urlPath));
    if (!file.startsWith(path.resolve(root) + path.sep)) {
      res.writeHead(400).end();
      return done(400);
    }
    try {
      const st = await stat(file);
      if (!st.isFile()) throw new Error('not a file');
      res.writeHead(200, { 'Content-Length': st.size, 'Last-Modified': st.mtime.toUTCString() });
      if (req.method === 'HEAD') res.end();
      else createReadStream(file).pipe(res);
      done(200);
    } catch {
      res.writeHead(404).end();
      done(404);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
