// A throwaway certificate authority and a server certificate signed by it, made with
// openssl, for the tests that need https: Terraform discovers a registry only over
// https, and its clients (tfclient here) trust the CA through a file, as Terraform
// trusts the system pool. And a TLS-terminating reverse proxy, to put an http server
// (packyard serve, wrangler dev) behind https as a real site does.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runOk } from './exec.js';

export interface TestCert {
  /** PEM of the CA: what a client trusts (tfclient's --ca-file). */
  caFile: string;
  /** PEM certificate and private key of the server, for https.createServer. */
  cert: string;
  key: string;
  dispose(): Promise<void>;
}

/** A CA and a server certificate for `hosts` (DNS names or IP addresses; default localhost and 127.0.0.1). */
export async function makeTestCert(hosts: readonly string[] = ['localhost', '127.0.0.1']): Promise<TestCert> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pytls-'));
  const f = (name: string) => path.join(dir, name);
  const ossl = (args: string[]) => runOk('openssl', args, { cwd: dir });
  await ossl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=Packyard Test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', f('ca.key'), '-out', f('ca.pem')]);
  await ossl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${hosts[0] ?? 'localhost'}`, '-keyout', f('server.key'), '-out', f('server.csr')]);
  const san = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  await writeFile(f('ext.cnf'), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
  await ossl(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-days', '2', '-extfile', f('ext.cnf'), '-out', f('server.pem')]);
  return {
    caFile: f('ca.pem'),
    cert: await readFile(f('server.pem'), 'utf8'),
    key: await readFile(f('server.key'), 'utf8'),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface ProxiedRequest {
  method: string;
  /** Path and query as the client sent them. */
  path: string;
  authorization?: string;
  status: number;
}

export interface TlsProxy {
  /** https://localhost:PORT (no trailing slash). */
  url: string;
  /** localhost:PORT: the hostname a Terraform client uses (module and provider addresses, credentials). */
  host: string;
  requests: ProxiedRequest[];
  close(): Promise<void>;
}

/**
 * A TLS-terminating reverse proxy on loopback in front of an http server (packyard serve,
 * wrangler dev), as a site puts nginx in front of Packyard: Terraform speaks only https.
 * It keeps the client's Host and adds X-Forwarded-Proto/-Host/-For; bodies stream both ways.
 * It records every request so tests can see where the client sent its token.
 */
export async function startTlsProxy(target: string, cert: TestCert): Promise<TlsProxy> {
  const upstream = new URL(target);
  const requests: ProxiedRequest[] = [];
  const server = https.createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    const headers = { ...req.headers };
    headers['x-forwarded-proto'] = 'https';
    headers['x-forwarded-host'] = req.headers.host ?? '';
    headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
    const up = http.request(
      { host: upstream.hostname, port: upstream.port || 80, method: req.method, path: req.url, headers },
      (ures) => {
        requests.push({ method: req.method ?? '', path: req.url ?? '', authorization: req.headers.authorization, status: ures.statusCode ?? 0 });
        res.writeHead(ures.statusCode ?? 502, ures.headers);
        ures.pipe(res);
      },
    );
    up.on('error', (e) => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', authorization: req.headers.authorization, status: 502 });
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`proxy: ${e.message}`);
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://localhost:${port}`,
    host: `localhost:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
