// The Terraform registry end to end (issue 15's acceptance), on both hosts (`packyard serve` and
// the Worker under wrangler dev), each behind a TLS-terminating proxy with a self-signed
// certificate, as Terraform only speaks https: tfclient (Terraform's own libraries doing
// `terraform init` for one module or provider) discovers a PRIVATE registry, chooses module
// versions by constraint (a pre-release only when named), installs a //subdir, a .zip and a
// .tar.gz module whose archives it fetches with no token, is refused without a token or with
// another repository's, installs a provider whose SHA256SUMS signature gpgv and sqv check (Ed25519)
// or it checks itself (RSA), and installs a mirrored provider with its h1: hash checked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile, cp } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { runOk } from '../helpers/exec.js';
import { startServer } from '../helpers/server.js';
import { startWorker } from '../helpers/worker.js';
import { makeTestCert, startTlsProxy, type ProxiedRequest, type TestCert, type TlsProxy } from '../helpers/tls.js';
import { describeRun, tfclientBinary, tfMirror, tfModule, tfProvider, verifyWithGpgv, verifyWithSqv } from '../helpers/tfclient.js';

interface Host {
  url: string;
  token: string;
  stop(): Promise<unknown>;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let work: string;
let cert: TestCert;
/** The test CA's PEM, for the few requests the test itself makes over https. */
let caPem: string;
/** Module archives by version: 1.1.0 a .zip, the others .tar.gz; each with a modules/sub. */
const modules = new Map<string, { kind: 'zip' | 'tar.gz'; bytes: Uint8Array }>();
const MODULE_VERSIONS = { '1.0.0': 'tar.gz', '1.1.0': 'zip', '1.2.0-beta.1': 'tar.gz', '2.0.0': 'tar.gz' } as const;
let providerZip: Uint8Array;
const PROVIDER_BINARY = 'terraform-provider-widget_v1.2.0';
const MIRROR_BINARY = 'terraform-provider-widget_v1.2.0_x5';
let mirrorZip: Uint8Array;

const moduleFiles = (v: string) => ({ 'main.tf': `# network ${v}\nvariable "cidr" {}\n`, 'modules/sub/main.tf': `# sub ${v}\noutput "y" { value = 1 }\n` });

async function pack(kind: 'zip' | 'tar.gz', files: Record<string, string>, executable: string[] = []): Promise<Uint8Array> {
  const root = await mkdtemp(join(work, 'src-'));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, name)), { recursive: true });
    await writeFile(join(root, name), text);
  }
  for (const name of executable) await chmod(join(root, name), 0o755);
  const out = join(work, `${Math.random().toString(36).slice(2)}.${kind}`);
  if (kind === 'tar.gz') await runOk('tar', ['-czf', out, '-C', root, '.']);
  else await runOk('zip', ['-q', '-X', '-r', out, '.'], { cwd: root });
  return new Uint8Array(await readFile(out));
}

/** GET over https trusting the test CA (Node's fetch takes no CA file). */
function httpsGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca: caPem }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'packyard-tf-e2e-'));
  const [c] = await Promise.all([makeTestCert(), tfclientBinary()]);
  cert = c;
  caPem = await readFile(cert.caFile, 'utf8');
  for (const [version, kind] of Object.entries(MODULE_VERSIONS)) modules.set(version, { kind, bytes: await pack(kind, moduleFiles(version)) });
  providerZip = await pack('zip', { [PROVIDER_BINARY]: '#!/bin/sh\necho widget\n' }, [PROVIDER_BINARY]);
  mirrorZip = await pack('zip', { [MIRROR_BINARY]: '#!/bin/sh\necho mirrored widget\n', 'LICENSE.txt': 'MPL\n' }, [MIRROR_BINARY]);
}, 300_000);

afterAll(async () => {
  await cert?.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

/** A client of the host's API with the admin token (over plain http, as CI on the same network). */
function admin(host: Host) {
  return async (path: string, init: { method?: string; body?: unknown; raw?: Uint8Array; token?: string | null } = {}) => {
    const headers: Record<string, string> = {};
    const token = init.token === undefined ? host.token : init.token;
    if (token) headers.authorization = `Bearer ${token}`;
    let body: BodyInit | undefined;
    if (init.raw) body = init.raw as Uint8Array<ArrayBuffer>;
    else if (init.body !== undefined) {
      body = JSON.stringify(init.body);
      headers['content-type'] = 'application/json';
    }
    return fetch(`${host.url}${path}`, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body });
  };
}

async function expectStatus(res: Promise<Response>, status: number | number[]): Promise<unknown> {
  const r = await res;
  const text = await r.text();
  expect([status].flat(), `${r.url}: ${r.status} ${text}`).toContain(r.status);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** The proxy's log since `from`, the requests whose path starts with `prefix`. */
const seen = (proxy: TlsProxy, from: number, prefix: string): ProxiedRequest[] => proxy.requests.slice(from).filter((r) => r.path.startsWith(prefix));

/** A private terraform repository `infra` with the modules and the provider, a second one `other`, and a read token of each. */
async function seed(host: Host): Promise<{ reader: string; stranger: string }> {
  const call = admin(host);
  await expectStatus(call('/api/v1/repos', { body: { name: 'infra', type: 'terraform', public: false } }), 201);
  await expectStatus(call('/api/v1/repos', { body: { name: 'other', type: 'terraform', public: false } }), 201);
  for (const [version, { bytes }] of modules) await expectStatus(call(`/api/v1/repos/infra/modules/network/aws/${version}`, { raw: bytes }), 201);
  await expectStatus(call('/api/v1/repos/infra/providers/widget/1.2.0/linux/amd64', { raw: providerZip }), 201);
  await expectStatus(call('/api/v1/repos/infra/mirror/registry.terraform.io/hashicorp/widget/1.2.0/linux/amd64', { raw: mirrorZip }), 201);
  const reader = (await expectStatus(call('/api/v1/tokens', { body: { name: 'terraform', repos: { infra: ['read'] } } }), 201)) as { token: string };
  const stranger = (await expectStatus(call('/api/v1/tokens', { body: { name: 'elsewhere', repos: { other: ['read'] } } }), 201)) as { token: string };
  return { reader: reader.token, stranger: stranger.token };
}

describe.each([
  ['Node host (packyard serve)', (): Promise<Host> => startServer()],
  ['Worker host (wrangler dev)', (): Promise<Host> => startWorker()],
])('a private Terraform registry on the %s, behind TLS', (_, start) => {
  let host: Host;
  let proxy: TlsProxy;
  let reader: string;
  let stranger: string;
  const out = () => mkdtemp(join(work, 'out-'));

  beforeAll(async () => {
    host = await start();
    proxy = await startTlsProxy(host.url, cert);
    ({ reader, stranger } = await seed(host));
  }, 180_000);
  afterAll(async () => {
    await proxy?.close();
    await host?.stop();
  });

  it('answers service discovery over TLS with URLs that keep the client\'s https origin', async () => {
    const discovery = await httpsGet(`${proxy.url}/.well-known/terraform.json`);
    expect(discovery.status).toBe(200);
    const services = JSON.parse(discovery.body) as Record<string, string>;
    for (const key of ['modules.v1', 'providers.v1']) {
      // Relative, or absolute on the proxy's https origin: never the upstream's http.
      const resolved = new URL(services[key]!, `${proxy.url}/.well-known/terraform.json`);
      expect(resolved.origin, key).toBe(proxy.url);
    }
  });

  it('chooses module versions by constraint: ~> 1.0 is 1.1.0 (a .zip), >= 1.0 is 2.0.0 (a .tar.gz), never the pre-release', async () => {
    const address = `${proxy.host}/infra/network/aws`;
    for (const [constraint, version] of [['~> 1.0', '1.1.0'], ['>= 1.0', '2.0.0'], ['>= 1.0, < 1.3', '1.1.0']] as const) {
      const dir = await out();
      const from = proxy.requests.length;
      const r = await tfModule({ address, constraint, out: dir, token: reader, caFile: cert.caFile });
      expect(r.code, describeRun(r)).toBe(0);
      expect(r.json?.version, constraint).toBe(version);
      expect(r.json?.files).toEqual(['main.tf', 'modules/sub/main.tf']);
      expect(await readFile(join(dir, 'main.tf'), 'utf8')).toBe(moduleFiles(version)['main.tf']);
      // The archive's location: on the proxy's https origin, of the right kind, signed.
      const kind = MODULE_VERSIONS[version];
      const location = new URL(r.json!.location);
      expect(location.origin).toBe(proxy.url);
      expect(location.pathname).toBe(`/infra/modules/network/aws/${version}.${kind}`);
      expect(location.searchParams.get('archive')).toBe(kind);
      expect(location.searchParams.get('signature')).toMatch(/^[0-9a-f]{64}$/);
      // The registry's API saw the token; the archive was fetched without one, and still answered 200.
      const api = seen(proxy, from, '/-/terraform/modules/v1/infra/network/aws/');
      expect(api.length).toBeGreaterThan(0);
      for (const req of api) {
        expect(req.authorization, `${req.method} ${req.path}`).toBe(`Bearer ${reader}`);
        expect([200, 204], `${req.method} ${req.path}`).toContain(req.status);
      }
      const archive = seen(proxy, from, location.pathname);
      expect(archive.filter((q) => q.method === 'GET').length, 'one GET of the archive').toBeGreaterThanOrEqual(1);
      for (const req of archive) {
        expect(req.authorization, `${req.method} ${req.path}`).toBeUndefined();
        // go-getter's GET asks for `Range: bytes=0-` (it resumes into its temporary file): 206 is the whole archive.
        expect([200, 206], `${req.method} ${req.path}`).toContain(req.status);
      }
      // Private still: the same archive path without its signature, or with no token, is refused.
      expect((await fetch(`${host.url}${location.pathname}`)).status).toBe(401);
    }
  });

  it('installs the pre-release only when named exactly', async () => {
    const dir = await out();
    const r = await tfModule({ address: `${proxy.host}/infra/network/aws`, constraint: '= 1.2.0-beta.1', out: dir, token: reader, caFile: cert.caFile });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.json?.version).toBe('1.2.0-beta.1');
    expect(await readFile(join(dir, 'main.tf'), 'utf8')).toBe(moduleFiles('1.2.0-beta.1')['main.tf']);
    // A range that holds it passes it over.
    const r2 = await tfModule({ address: `${proxy.host}/infra/network/aws`, constraint: '>= 1.2.0-beta.1, < 2.0.0', out: await out(), token: reader, caFile: cert.caFile });
    expect(r2.code, describeRun(r2)).toBe(1);
  });

  it('installs a //subdir of a module: only modules/sub', async () => {
    const dir = await out();
    const r = await tfModule({ address: `${proxy.host}/infra/network/aws//modules/sub`, constraint: '~> 1.0', out: dir, token: reader, caFile: cert.caFile });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.json?.version).toBe('1.1.0');
    expect(r.json?.files).toEqual(['main.tf']);
    expect(await readFile(join(dir, 'main.tf'), 'utf8')).toBe(moduleFiles('1.1.0')['modules/sub/main.tf']);
  });

  it('answers 401 without a token, and refuses a token for another repository', async () => {
    const noToken = await tfModule({ address: `${proxy.host}/infra/network/aws`, constraint: '~> 1.0', out: await out(), caFile: cert.caFile });
    expect(noToken.code, describeRun(noToken)).toBe(1);
    expect(noToken.error?.status, describeRun(noToken)).toBe(401);
    const other = await tfModule({ address: `${proxy.host}/infra/network/aws`, constraint: '~> 1.0', out: await out(), token: stranger, caFile: cert.caFile });
    expect(other.code, describeRun(other)).toBe(1);
    expect([401, 403], describeRun(other)).toContain(other.error?.status);
    const provider = await tfProvider({ address: `${proxy.host}/infra/widget`, constraint: '1.2.0', out: await out(), token: stranger, caFile: cert.caFile });
    expect(provider.code, describeRun(provider)).toBe(1);
    expect([401, 403], describeRun(provider)).toContain(provider.error?.status);
    const mirror = await tfMirror({ mirrorUrl: `${proxy.url}/infra/mirror/`, address: 'registry.terraform.io/hashicorp/widget', constraint: '1.2.0', out: await out(), caFile: cert.caFile });
    expect(mirror.code, describeRun(mirror)).toBe(1);
    expect(mirror.error?.status, describeRun(mirror)).toBe(401);
  });

  it('installs a provider signed with the Ed25519 key: the client checks its hashes, gpgv and sqv its signature', async () => {
    const dir = await out();
    const keys = await out();
    const from = proxy.requests.length;
    const r = await tfProvider({ address: `${proxy.host}/infra/widget`, constraint: '~> 1.0', out: dir, token: reader, caFile: cert.caFile, keyringOut: keys });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.json).toMatchObject({ version: '1.2.0', filename: 'terraform-provider-widget_1.2.0_linux_amd64.zip', shasum: sha256(providerZip), signature: 'unverified-eddsa', verified: false });
    expect(r.json?.files).toEqual([PROVIDER_BINARY]);
    expect(await readFile(join(dir, PROVIDER_BINARY), 'utf8')).toBe('#!/bin/sh\necho widget\n');
    expect(await readFile(join(keys, 'SHA256SUMS'), 'utf8')).toBe(`${sha256(providerZip)}  terraform-provider-widget_1.2.0_linux_amd64.zip\n`);
    for (const verify of [verifyWithGpgv, verifyWithSqv]) {
      const v = await verify(keys);
      expect(v.code, `${verify.name}: ${v.stdout}${v.stderr}`).toBe(0);
    }
    // The same checks refuse a SHA256SUMS that is not the one signed.
    const tampered = await out();
    await cp(keys, tampered, { recursive: true });
    await writeFile(join(tampered, 'SHA256SUMS'), `${'0'.repeat(64)}  terraform-provider-widget_1.2.0_linux_amd64.zip\n`);
    for (const verify of [verifyWithGpgv, verifyWithSqv]) expect((await verify(tampered)).code, verify.name).not.toBe(0);
    // Zip, SHA256SUMS and its signature: fetched with no token, answered 200.
    const downloads = proxy.requests.slice(from).filter((q) => !q.path.startsWith('/-/terraform/') && !q.path.startsWith('/.well-known/'));
    expect(downloads.length).toBeGreaterThanOrEqual(3);
    for (const q of downloads) expect(q, q.path).toMatchObject({ authorization: undefined, status: 200 });
  });

  it('installs a mirrored provider through the network mirror protocol, its h1: and zh: hashes checked', async () => {
    const dir = await out();
    const r = await tfMirror({ mirrorUrl: `${proxy.url}/infra/mirror/`, address: 'registry.terraform.io/hashicorp/widget', constraint: '~> 1.2', out: dir, token: reader, caFile: cert.caFile });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.json).toMatchObject({ version: '1.2.0', verified: true, zh: `zh:${sha256(mirrorZip)}` });
    expect(r.json?.hashes).toContain(r.json?.h1_archive);
    expect(r.json?.hashes).toContain(`zh:${sha256(mirrorZip)}`);
    expect(r.json?.h1_dir).toBe(r.json?.h1_archive);
    expect(r.json?.files).toEqual(['LICENSE.txt', MIRROR_BINARY]);
    expect(new URL(r.json!.url, `${proxy.url}/infra/mirror/registry.terraform.io/hashicorp/widget/1.2.0.json`).origin).toBe(proxy.url);
  });
});

// The Worker signs with its Ed25519 key (checked above); RSA is the Node host's option.
describe('a private Terraform registry on the Node host with an RSA signing key, behind TLS', () => {
  it('installs a provider signed with an RSA key, its signature checked by the client itself', async () => {
    // A second server whose signing key is RSA, made on its first start.
    const rsaHost = await startServer({ env: { PACKYARD_KEY_ALGORITHM: 'rsa4096' } });
    const rsaProxy = await startTlsProxy(rsaHost.url, cert);
    try {
      const call = admin(rsaHost);
      await expectStatus(call('/api/v1/repos', { body: { name: 'infra', type: 'terraform', public: false } }), 201);
      await expectStatus(call('/api/v1/repos/infra/providers/widget/1.2.0/linux/amd64', { raw: providerZip }), 201);
      const { token } = (await expectStatus(call('/api/v1/tokens', { body: { name: 'terraform', repos: { infra: ['read'] } } }), 201)) as { token: string };
      const dir = await mkdtemp(join(work, 'out-'));
      const r = await tfProvider({ address: `${rsaProxy.host}/infra/widget`, constraint: '1.2.0', out: dir, token, caFile: cert.caFile });
      expect(r.code, describeRun(r)).toBe(0);
      expect(r.json).toMatchObject({ version: '1.2.0', shasum: sha256(providerZip), signature: 'verified', verified: true });
      expect(r.json?.key_id).toMatch(/^[0-9A-F]{16}$/);
      expect(r.json?.files).toEqual([PROVIDER_BINARY]);
    } finally {
      await rsaProxy.close();
      await rsaHost.stop();
    }
  }, 120_000);
});
