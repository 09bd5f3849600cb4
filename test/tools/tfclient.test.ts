// Proves test/tools/tfclient (Terraform's own libraries doing `terraform init` for one
// module or provider) against a tiny fake registry: a real https server with a
// self-signed CA, serving the module, provider and network-mirror protocols, private
// behind a bearer token, with archives that refuse any Authorization header (Terraform
// never sends the token there). RSA signatures are checked by the client; Ed25519 ones by
// gpgv and sqv from the files the client writes out.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOk } from '../helpers/exec.js';
import { makeTestCert, startTlsProxy, type TestCert } from '../helpers/tls.js';
import { describeRun, tfclientBinary, tfMirror, tfModule, tfProvider, verifyWithGpgv, verifyWithSqv } from '../helpers/tfclient.js';

const TOKEN = 'reg-token-123';

interface Logged {
  method: string;
  path: string;
  authorization?: string;
  status: number;
}

interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

const sha256hex = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** dirhash Hash1, written independently of the Go one: sorted "<sha256 hex>  <name>\n" lines, SHA-256, base64. */
function hash1(files: Record<string, Uint8Array | string>): string {
  const lines = Object.keys(files)
    .sort()
    .map((n) => `${sha256hex(files[n]!)}  ${n}\n`)
    .join('');
  return 'h1:' + createHash('sha256').update(lines).digest('base64');
}

async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
}

async function makeZip(work: string, name: string, files: Record<string, string>, opts: { noDirEntries?: boolean } = {}): Promise<Uint8Array> {
  const dir = await mkdtemp(path.join(work, 'zip-'));
  await writeTree(dir, files);
  for (const n of Object.keys(files)) if (n.includes('terraform-provider-')) await chmod(path.join(dir, n), 0o755);
  const out = path.join(work, name);
  await runOk('zip', ['-q', '-X', '-r', ...(opts.noDirEntries ? ['-D'] : []), out, '.'], { cwd: dir });
  return new Uint8Array(await readFile(out));
}

async function makeTarGz(work: string, name: string, files: Record<string, string>): Promise<Uint8Array> {
  const dir = await mkdtemp(path.join(work, 'tar-'));
  await writeTree(dir, files);
  const out = path.join(work, name);
  await runOk('tar', ['-czf', out, '-C', dir, '.']);
  return new Uint8Array(await readFile(out));
}

interface Key {
  privateKey: openpgp.PrivateKey;
  armored: string;
  keyId: string;
  fingerprint: string;
}

async function makeKey(kind: 'rsa' | 'ed25519'): Promise<Key> {
  const userIDs = [{ name: `Provider ${kind}`, email: `${kind}@packyard.invalid` }];
  const { privateKey, publicKey } =
    kind === 'rsa'
      ? await openpgp.generateKey({ type: 'rsa', rsaBits: 2048, userIDs, format: 'object' })
      : await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs, format: 'object' });
  return {
    privateKey,
    armored: publicKey.armor(),
    keyId: publicKey.getKeyID().toHex().toUpperCase(),
    fingerprint: publicKey.getFingerprint().toUpperCase(),
  };
}

async function detachSign(data: Uint8Array, key: Key): Promise<Uint8Array> {
  const message = await openpgp.createMessage({ binary: data });
  return (await openpgp.sign({ message, signingKeys: key.privateKey, detached: true, format: 'binary' })) as Uint8Array;
}

describe('tfclient against a fake Terraform registry over https', () => {
  let work: string;
  let cert: TestCert;
  let server: https.Server;
  let plain: http.Server;
  const forwarded: { proto?: string | string[]; host?: string | string[] }[] = [];
  let host: string; // localhost:PORT, the registry hostname
  const log: Logged[] = [];
  const api = new Map<string, () => Reply>(); // private: need the bearer token
  const files = new Map<string, Reply>(); // public, and refuse any Authorization
  const mirrorFiles = { 'terraform-provider-aws_v5.1.0_x5': '#!/bin/sh\necho aws\n', 'docs/README.md': 'mirror docs\n' };
  let mirrorZip: Uint8Array;
  let rsaKey: Key;
  let edKey: Key;

  const json = (v: unknown): Reply => ({ status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(v) });
  const out = () => mkdtemp(path.join(work, 'out-'));

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'tfclient-test-'));
    const [c, rsa, ed] = await Promise.all([makeTestCert(), makeKey('rsa'), makeKey('ed25519'), tfclientBinary()]);
    cert = c;
    rsaKey = rsa;
    edKey = ed;

    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const url = req.url ?? '/';
      const p = url.split('?')[0]!;
      const send = (r: Reply) => {
        log.push({ method: req.method ?? '', path: url, authorization: req.headers.authorization, status: r.status });
        const body = r.body === undefined ? undefined : typeof r.body === 'string' ? Buffer.from(r.body) : Buffer.from(r.body);
        res.writeHead(r.status, { ...r.headers, ...(body ? { 'content-length': String(body.length) } : {}) });
        res.end(req.method === 'HEAD' ? undefined : body);
      };
      if (p === '/.well-known/terraform.json') return send(json({ 'modules.v1': '/v1/modules/', 'providers.v1': '/v1/providers/' }));
      const a = api.get(p);
      if (a) return send(req.headers.authorization === `Bearer ${TOKEN}` ? a() : { status: 401, body: '{"errors":["unauthorized"]}' });
      const f = files.get(p);
      if (f) return send(req.headers.authorization ? { status: 403, body: 'a token was sent to an archive' } : f);
      send({ status: 404, body: 'not found' });
    };
    server = https.createServer({ cert: cert.cert, key: cert.key }, handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    // The same registry over plain http, for the TLS proxy's test.
    plain = http.createServer((req, res) => {
      forwarded.push({ proto: req.headers['x-forwarded-proto'], host: req.headers['x-forwarded-host'] });
      handler(req, res);
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    host = `localhost:${(server.address() as AddressInfo).port}`;

    // Module acme/net/aws: one version per way of answering download.
    const mod = (v: string) => ({ 'main.tf': `# net ${v}\n`, 'variables.tf': 'variable "x" {}\n', 'modules/sub/main.tf': `# sub ${v}\n` });
    const m = '/v1/modules/acme/net/aws';
    api.set(`${m}/versions`, () =>
      json({ modules: [{ versions: ['0.9.0', '1.0.0', '1.2.0', '1.3.0-beta', '2.0.0'].map((version) => ({ version })) }] }),
    );
    const get204 = (loc: string) => () => ({ status: 204, headers: { 'X-Terraform-Get': loc } });
    // 2.0.0: a .zip named by its extension; 1.2.0: ?archive=tar.gz on an extensionless path;
    // 1.0.0: OpenTofu's 200 {location} with a "./" location; 1.3.0-beta: //subdir;
    // 0.9.0: an absolute URL.
    api.set(`${m}/2.0.0/download`, get204('/archives/net-2.0.0.zip'));
    files.set('/archives/net-2.0.0.zip', { status: 200, body: await makeZip(work, 'net-2.0.0.zip', mod('2.0.0')) });
    api.set(`${m}/1.2.0/download`, get204('/archives/blob/net-1.2.0?archive=tar.gz'));
    files.set('/archives/blob/net-1.2.0', { status: 200, body: await makeTarGz(work, 'net-1.2.0.tgz', mod('1.2.0')) });
    api.set(`${m}/1.0.0/download`, () => json({ location: './archive.zip' }));
    files.set(`${m}/1.0.0/archive.zip`, { status: 200, body: await makeZip(work, 'net-1.0.0.zip', mod('1.0.0')) });
    api.set(`${m}/1.3.0-beta/download`, get204('/archives/net-1.3.0-beta.tar.gz//modules/sub'));
    files.set('/archives/net-1.3.0-beta.tar.gz', { status: 200, body: await makeTarGz(work, 'net-beta.tgz', mod('1.3.0-beta')) });
    api.set(`${m}/0.9.0/download`, get204(`https://${host}/archives/net-0.9.0.tar.gz`));
    files.set('/archives/net-0.9.0.tar.gz', { status: 200, body: await makeTarGz(work, 'net-0.9.0.tgz', mod('0.9.0')) });

    // Providers: acme/<type>, each a variation on who signs and what is listed.
    const provider = async (type: string, o: { signer: Key; listed: Key[]; wrongSumsLine?: boolean; wrongShasum?: boolean }) => {
      const pv = '/v1/providers/acme/' + type;
      api.set(`${pv}/versions`, () =>
        json({
          versions: [
            { version: '1.0.0', protocols: ['5.0'], platforms: [{ os: 'linux', arch: 'amd64' }] },
            { version: '1.1.0', protocols: ['5.0'], platforms: [{ os: 'linux', arch: 'amd64' }, { os: 'darwin', arch: 'arm64' }] },
            { version: '1.2.0-rc1', protocols: ['5.0'], platforms: [{ os: 'linux', arch: 'amd64' }] },
            { version: '2.0.0', protocols: ['5.0'], platforms: [{ os: 'darwin', arch: 'arm64' }] },
          ],
        }),
      );
      for (const v of ['1.0.0', '1.1.0', '1.2.0-rc1']) {
        const filename = `terraform-provider-${type}_${v}_linux_amd64.zip`;
        const zip = await makeZip(work, filename, { [`terraform-provider-${type}_v${v}`]: `#!/bin/sh\necho ${type} ${v}\n` });
        const sum = sha256hex(zip);
        const sums = new TextEncoder().encode(
          `${o.wrongSumsLine ? sha256hex('other') : sum}  ${filename}\n${sha256hex('x')}  terraform-provider-${type}_${v}_darwin_arm64.zip\n`,
        );
        const base = `/files/${type}/${v}`;
        files.set(`${base}/${filename}`, { status: 200, body: zip });
        files.set(`${base}/SHA256SUMS`, { status: 200, body: sums });
        files.set(`${base}/SHA256SUMS.sig`, { status: 200, body: await detachSign(sums, o.signer) });
        api.set(`${pv}/${v}/download/linux/amd64`, () =>
          json({
            protocols: ['5.0'],
            os: 'linux',
            arch: 'amd64',
            filename,
            download_url: `https://${host}${base}/${filename}`, // absolute
            shasums_url: `${base}/SHA256SUMS`, // relative to the answer's URL
            shasums_signature_url: `${base}/SHA256SUMS.sig`,
            shasum: o.wrongShasum ? sha256hex('other') : sum,
            signing_keys: { gpg_public_keys: o.listed.map((k) => ({ key_id: k.keyId, ascii_armor: k.armored })) },
          }),
        );
      }
    };
    const otherRsa = await makeKey('rsa');
    await provider('rsa', { signer: rsaKey, listed: [rsaKey] });
    await provider('ed', { signer: edKey, listed: [edKey] });
    await provider('both', { signer: rsaKey, listed: [edKey, rsaKey] });
    await provider('badsig', { signer: otherRsa, listed: [rsaKey] });
    await provider('badsums', { signer: rsaKey, listed: [rsaKey], wrongSumsLine: true });
    await provider('badshasum', { signer: rsaKey, listed: [rsaKey], wrongShasum: true });

    // A network mirror of registry.terraform.io/hashicorp/{aws,bad}.
    mirrorZip = await makeZip(work, 'aws.zip', mirrorFiles, { noDirEntries: true });
    const mirror = '/ops/mirror/registry.terraform.io/hashicorp';
    for (const [type, hashes] of [
      ['aws', [hash1(mirrorFiles), `zh:${sha256hex(mirrorZip)}`]],
      ['bad', [hash1({ ...mirrorFiles, extra: 'x' }), `zh:${sha256hex(mirrorZip)}`]],
      ['zhonly', [`zh:${sha256hex(mirrorZip)}`]],
    ] as const) {
      api.set(`${mirror}/${type}/index.json`, () => json({ versions: { '5.0.0': {}, '5.1.0': {}, '6.0.0-beta1': {} } }));
      api.set(`${mirror}/${type}/5.1.0.json`, () =>
        json({ archives: { linux_amd64: { url: `terraform-provider-${type}_5.1.0_linux_amd64.zip`, hashes } } }),
      );
      files.set(`${mirror}/${type}/terraform-provider-${type}_5.1.0_linux_amd64.zip`, { status: 200, body: mirrorZip });
    }
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => (plain ? plain.close(() => resolve()) : resolve()));
    await cert?.dispose();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const requestsTo = (prefix: string) => log.filter((r) => r.path.startsWith(prefix));

  describe('module', () => {
    it('chooses the newest version for ~> 1.0 and fetches its tar.gz (?archive=) without the token', async () => {
      const dir = await out();
      log.length = 0;
      const r = await tfModule({ address: `${host}/acme/net/aws`, constraint: '~> 1.0', out: dir, token: TOKEN, caFile: cert.caFile });
      expect(r.code, describeRun(r)).toBe(0);
      expect(r.json).toEqual({
        version: '1.2.0',
        location: `https://${host}/archives/blob/net-1.2.0?archive=tar.gz`,
        files: ['main.tf', 'modules/sub/main.tf', 'variables.tf'],
      });
      expect(await readFile(path.join(dir, 'main.tf'), 'utf8')).toBe('# net 1.2.0\n');
      // The registry's API got the token; the archive (HEAD and GET) none.
      expect(requestsTo('/v1/').map((q) => q.authorization)).toEqual([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]);
      const archive = requestsTo('/archives/');
      expect(archive.length).toBeGreaterThan(0);
      expect(archive.every((q) => q.authorization === undefined && q.status === 200)).toBe(true);
    });

    it('fetches a .zip named by its extension (>= 2.0)', async () => {
      const dir = await out();
      const r = await tfModule({ address: `${host}/acme/net/aws`, constraint: '>= 2.0', out: dir, token: TOKEN, caFile: cert.caFile });
      expect(r.code, describeRun(r)).toBe(0);
      expect(r.json?.version).toBe('2.0.0');
      expect(r.json?.files).toEqual(['main.tf', 'modules/sub/main.tf', 'variables.tf']);
      expect(await readFile(path.join(dir, 'main.tf'), 'utf8')).toBe('# net 2.0.0\n');
    });

    it('installs only the //SUBDIR of an address, placed before the location\'s query', async () => {
      for (const [constraint, version] of [['>= 2.0', '2.0.0'], ['1.2.0', '1.2.0']] as const) {
        const dir = await out();
        const r = await tfModule({ address: `${host}/acme/net/aws//modules/sub`, constraint, out: dir, token: TOKEN, caFile: cert.caFile });
        expect(r.code, describeRun(r)).toBe(0);
        expect(r.json?.version).toBe(version);
        expect(r.json?.files).toEqual(['main.tf']);
        expect(await readFile(path.join(dir, 'main.tf'), 'utf8')).toBe(`# sub ${version}\n`);
      }
    });

    it('reads a 200 {location} body and resolves "./" against the download URL', async () => {
      const dir = await out();
      const r = await tfModule({ address: `${host}/acme/net/aws`, constraint: '1.0.0', out: dir, token: TOKEN, caFile: cert.caFile });
      expect(r.code, describeRun(r)).toBe(0);
      expect(r.json?.location).toBe(`https://${host}/v1/modules/acme/net/aws/1.0.0/archive.zip`);
      expect(await readFile(path.join(dir, 'main.tf'), 'utf8')).toBe('# net 1.0.0\n');
    });

    it('takes an absolute location as it is', async () => {
      const dir = await out();
      const r = await tfModule({ address: `${host}/acme/net/aws`, constraint: '< 1.0', out: dir, token: TOKEN, caFile: cert.caFile });
      expect(r.code, describeRun(r)).toBe(0);
      expect(r.json?.version).toBe('0.9.0');
      expect(r.json?.location).toBe(`https://${host}/archives/net-0.9.0.tar.gz`);
    });

    it('chooses a pre-release only when named exactly, and installs only its //subdir', async () => {
      const dir = await out();
      const r = await tfModule({ address: `${host}/acme/net/aws`, constraint: '1.3.0-beta', out: dir, token: TOKEN, caFile: cert.caFile });
      expect(r.code, describeRun(r)).toBe(0);
      expect(r.json?.version).toBe('1.3.0-beta');
      expect(r.json?.files).toEqual(['main.tf']);
      expect(await readFile(path.join(dir, 'main.tf'), 'utf8')).toBe('# sub 1.3.0-beta\n');
      // Any inexact constraint passes it over, even one whose range holds it.
      for (const constraint of ['~> 1.2', '>= 1.3.0-beta, < 2.0.0', '~> 1.3.0-beta']) {
        const r2 = await tfModule({ address: `${host}/acme/net/aws`, constraint, out: await out(), token: TOKEN, caFile: cert.caFile });
        expect(r2.code, describeRun(r2)).toBe(constraint === '~> 1.2' ? 0 : 1);
        if (r2.code === 0) expect(r2.json?.version).toBe('1.2.0');
      }
    });

    it('fails with 401 from versions without a token or with a wrong one', async () => {
      for (const token of [undefined, 'wrong']) {
        const r = await tfModule({ address: `${host}/acme/net/aws`, constraint: '~> 1.0', out: await out(), token, caFile: cert.caFile });
        expect(r.code, describeRun(r)).toBe(1);
        expect(r.json).toBeUndefined();
        expect(r.error?.status).toBe(401);
        expect(r.error?.url).toBe(`https://${host}/v1/modules/acme/net/aws/versions`);
      }
    });

    it('refuses the self-signed certificate without --ca-file', async () => {
      const r = await tfModule({ address: `${host}/acme/net/aws`, constraint: '~> 1.0', out: await out(), token: TOKEN });
      expect(r.code).toBe(1);
      expect(r.error?.error).toMatch(/certificate/);
    });

    it('fails when no version matches', async () => {
      const r = await tfModule({ address: `${host}/acme/net/aws`, constraint: '~> 3.0', out: await out(), token: TOKEN, caFile: cert.caFile });
      expect(r.code).toBe(1);
      expect(r.error?.error).toMatch(/no version matches/);
    });
  });

  describe('provider', () => {
    it('installs an RSA-signed provider: shasum, SHA256SUMS line and signature checked, no token to the files', async () => {
      const dir = await out();
      log.length = 0;
      const r = await tfProvider({ address: `${host}/acme/rsa`, constraint: '~> 1.0', out: dir, token: TOKEN, caFile: cert.caFile });
      expect(r.code, describeRun(r)).toBe(0);
      // 1.2.0-rc1 is a pre-release, 2.0.0 has no linux_amd64: 1.1.0.
      const zip = files.get('/files/rsa/1.1.0/terraform-provider-rsa_1.1.0_linux_amd64.zip')!.body as Uint8Array;
      expect(r.json).toEqual({
        version: '1.1.0',
        filename: 'terraform-provider-rsa_1.1.0_linux_amd64.zip',
        shasum: sha256hex(zip),
        verified: true,
        signature: 'verified',
        key_id: rsaKey.keyId,
        files: ['terraform-provider-rsa_v1.1.0'],
      });
      expect(await readFile(path.join(dir, 'terraform-provider-rsa_v1.1.0'), 'utf8')).toBe('#!/bin/sh\necho rsa 1.1.0\n');
      expect(requestsTo('/v1/').every((q) => q.authorization === `Bearer ${TOKEN}`)).toBe(true);
      const f = requestsTo('/files/');
      expect(f.map((q) => q.path.split('/').pop())).toEqual(['terraform-provider-rsa_1.1.0_linux_amd64.zip', 'SHA256SUMS', 'SHA256SUMS.sig']);
      expect(f.every((q) => q.authorization === undefined && q.status === 200)).toBe(true);
    });

    it('chooses a pre-release provider only when named exactly', async () => {
      const r = await tfProvider({ address: `${host}/acme/rsa`, constraint: '1.2.0-rc1', out: await out(), token: TOKEN, caFile: cert.caFile });
      expect(r.code, describeRun(r)).toBe(0);
      expect(r.json?.version).toBe('1.2.0-rc1');
      expect(r.json?.verified).toBe(true);
    });

    it('verifies with the RSA key when an Ed25519 key is listed first', async () => {
      const r = await tfProvider({ address: `${host}/acme/both`, constraint: '1.0.0', out: await out(), token: TOKEN, caFile: cert.caFile });
      expect(r.code, describeRun(r)).toBe(0);
      expect(r.json?.signature).toBe('verified');
      expect(r.json?.key_id).toBe(rsaKey.keyId);
    });

    it('leaves an Ed25519 signature to gpgv and sqv, which accept it, and reject a tampered SHA256SUMS', async () => {
      const keyringOut = await out();
      const r = await tfProvider({ address: `${host}/acme/ed`, constraint: '1.0.0', out: await out(), token: TOKEN, caFile: cert.caFile, keyringOut });
      expect(r.code, describeRun(r)).toBe(0);
      expect(r.json?.verified).toBe(false);
      expect(r.json?.signature).toBe('unverified-eddsa');
      expect(await readFile(path.join(keyringOut, 'SHA256SUMS'))).toEqual(
        Buffer.from(files.get('/files/ed/1.0.0/SHA256SUMS')!.body as Uint8Array),
      );
      const g = await verifyWithGpgv(keyringOut);
      expect(g.code, g.stderr).toBe(0);
      const s = await verifyWithSqv(keyringOut);
      expect(s.code, s.stderr).toBe(0);
      expect(s.stdout.trim()).toBe(edKey.fingerprint); // sqv names the key that made the signature
      await writeFile(path.join(keyringOut, 'SHA256SUMS'), 'tampered\n');
      expect((await verifyWithGpgv(keyringOut)).code).not.toBe(0);
      expect((await verifyWithSqv(keyringOut)).code).not.toBe(0);
    });

    it('refuses a signature by a key that is not listed', async () => {
      const r = await tfProvider({ address: `${host}/acme/badsig`, constraint: '1.0.0', out: await out(), token: TOKEN, caFile: cert.caFile });
      expect(r.code).toBe(1);
      expect(r.error?.error).toMatch(/signature/);
    });

    it('refuses a SHA256SUMS line that does not match the archive', async () => {
      const r = await tfProvider({ address: `${host}/acme/badsums`, constraint: '1.0.0', out: await out(), token: TOKEN, caFile: cert.caFile });
      expect(r.code).toBe(1);
      expect(r.error?.error).toMatch(/SHA256SUMS lists/);
    });

    it('refuses an archive whose hash is not the listed shasum', async () => {
      const r = await tfProvider({ address: `${host}/acme/badshasum`, constraint: '1.0.0', out: await out(), token: TOKEN, caFile: cert.caFile });
      expect(r.code).toBe(1);
      expect(r.error?.error).toMatch(/does not match shasum/);
    });

    it('fails with 401 without a token', async () => {
      const r = await tfProvider({ address: `${host}/acme/rsa`, constraint: '~> 1.0', out: await out(), caFile: cert.caFile });
      expect(r.code).toBe(1);
      expect(r.error?.status).toBe(401);
    });
  });

  describe('network mirror', () => {
    it('installs from the mirror with h1: (dirhash) and zh: verified, the token only on the JSON', async () => {
      const dir = await out();
      log.length = 0;
      const r = await tfMirror({
        mirrorUrl: `https://${host}/ops/mirror/`,
        address: 'registry.terraform.io/hashicorp/aws',
        constraint: '~> 5.0',
        out: dir,
        token: TOKEN,
        caFile: cert.caFile,
      });
      expect(r.code, describeRun(r)).toBe(0);
      const h1 = hash1(mirrorFiles);
      expect(r.json).toEqual({
        version: '5.1.0',
        url: `https://${host}/ops/mirror/registry.terraform.io/hashicorp/aws/terraform-provider-aws_5.1.0_linux_amd64.zip`,
        hashes: [h1, `zh:${sha256hex(mirrorZip)}`],
        h1_archive: h1,
        h1_dir: h1,
        zh: `zh:${sha256hex(mirrorZip)}`,
        verified: true,
        files: ['docs/README.md', 'terraform-provider-aws_v5.1.0_x5'],
      });
      const reqs = requestsTo('/ops/');
      expect(reqs.map((q) => [q.path.split('/').pop(), q.authorization])).toEqual([
        ['index.json', `Bearer ${TOKEN}`],
        ['5.1.0.json', `Bearer ${TOKEN}`],
        ['terraform-provider-aws_5.1.0_linux_amd64.zip', undefined],
      ]);
    });

    it('refuses an archive whose h1: is not the listed one, and a listing without h1:', async () => {
      for (const type of ['bad', 'zhonly']) {
        const r = await tfMirror({
          mirrorUrl: `https://${host}/ops/mirror`,
          address: `registry.terraform.io/hashicorp/${type}`,
          constraint: '5.1.0',
          out: await out(),
          token: TOKEN,
          caFile: cert.caFile,
        });
        expect(r.code, describeRun(r)).toBe(1);
        expect(r.error?.error).toMatch(type === 'bad' ? /lists h1:/ : /no h1:/);
      }
    });

    it('fails with 401 from index.json without a token', async () => {
      const r = await tfMirror({
        mirrorUrl: `https://${host}/ops/mirror/`,
        address: 'registry.terraform.io/hashicorp/aws',
        constraint: '~> 5.0',
        out: await out(),
        caFile: cert.caFile,
      });
      expect(r.code).toBe(1);
      expect(r.error?.status).toBe(401);
    });
  });

  describe('behind startTlsProxy', () => {
    it('installs a module from an http registry put behind https, with X-Forwarded-Proto', async () => {
      const proxy = await startTlsProxy(`http://127.0.0.1:${(plain.address() as AddressInfo).port}`, cert);
      try {
        const dir = await out();
        const r = await tfModule({ address: `${proxy.host}/acme/net/aws`, constraint: '~> 1.0', out: dir, token: TOKEN, caFile: cert.caFile });
        expect(r.code, describeRun(r)).toBe(0);
        expect(r.json?.location).toBe(`${proxy.url}/archives/blob/net-1.2.0?archive=tar.gz`);
        expect(await readFile(path.join(dir, 'main.tf'), 'utf8')).toBe('# net 1.2.0\n');
        expect(proxy.requests.map((q) => [q.path.split('?')[0], q.authorization, q.status])).toEqual([
          ['/.well-known/terraform.json', `Bearer ${TOKEN}`, 200],
          ['/v1/modules/acme/net/aws/versions', `Bearer ${TOKEN}`, 200],
          ['/v1/modules/acme/net/aws/1.2.0/download', `Bearer ${TOKEN}`, 204],
          ['/archives/blob/net-1.2.0', undefined, 200], // go-getter's HEAD
          ['/archives/blob/net-1.2.0', undefined, 200],
        ]);
        expect(forwarded.at(-1)).toEqual({ proto: 'https', host: proxy.host });
      } finally {
        await proxy.close();
      }
    });
  });
});
