// tfclient: what `terraform init` does for one module or one provider, built from the Go
// libraries Terraform is built on (test/tools/tfclient), driven from the tests.
//
// API
//   tfclientBinary(): Promise<string>
//     Builds test/tools/tfclient once (GOPATH mode, offline, from /usr/share/gocode) into
//     .cache/tfclient/<sha256 of the sources>/tfclient and returns its path; later calls and
//     later test files reuse it. Needs golang-go and the golang-*-dev packages of .ci/run.
//   runTfclient(args: string[], opts?: { timeoutMs? }): Promise<TfclientRun>
//     Runs it with raw arguments: { code, stdout, stderr, json (stdout parsed, or undefined),
//     error (stderr's {error, status?, url?} parsed, or undefined) }.
//   tfModule({ address, constraint, out, token?, caFile? })
//     `module HOST/NAMESPACE/NAME/SYSTEM[//SUBDIR]`: discovery (modules.v1), versions, the newest
//     version the constraint accepts (a pre-release only when named exactly), download
//     (204 X-Terraform-Get or 200 {location}, relative to the download URL), then go-getter
//     into `out` with no token (//subdir, ?archive=, .tar.gz, .zip); an address's //SUBDIR is
//     joined onto the location's, as Terraform does.
//     json: { version, location, files: string[] } (files relative to out, sorted).
//   tfProvider({ address, constraint, out, os?, arch?, token?, caFile?, keyringOut? })
//     `provider HOST/NAMESPACE/TYPE`: providers.v1, versions (only those with the platform),
//     download/<os>/<arch>; download_url, shasums_url, shasums_signature_url fetched with no
//     token; the zip checked against `shasum` and its SHA256SUMS line; the binary detached
//     signature over SHA256SUMS checked with the listed keys; unzipped into out.
//     json: { version, filename, shasum, verified, signature: 'verified' | 'unverified-eddsa',
//     key_id?, files }. For an EdDSA key (x/crypto/openpgp has none) verified is false and,
//     with keyringOut, keys.asc, SHA256SUMS and SHA256SUMS.sig are written there:
//     verifyWithGpgv(keyringOut) / verifyWithSqv(keyringOut) then do the check.
//   tfMirror({ mirrorUrl, address, constraint, out, os?, arch?, token?, caFile? })
//     `mirror https://HOST/<repo>/mirror/ HOSTNAME/NAMESPACE/TYPE`: index.json, <version>.json,
//     the archive for os_arch (url relative to <version>.json, no token), unzipped into out.
//     json: { version, url, hashes, h1_archive (dirhash.HashZip, what Terraform checks a
//     mirror's h1: against), h1_dir (dirhash.HashDir of out), zh, verified, files }; every
//     listed h1:/zh: must match and one h1: must be listed, else exit 1.
//   The token goes, as `Authorization: Bearer`, only to the registry (or mirror) host's API
//   requests. Failures: code 1 and error = { error, status?, url? } (status for HTTP errors,
//   e.g. 401 from versions).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as openpgp from 'openpgp';
import { cacheDir, describeFailure, repoRoot, run, runOk, type RunResult } from './exec.js';

const sourceDir = path.join(repoRoot, 'test', 'tools', 'tfclient');

export interface TfclientError {
  error: string;
  status?: number;
  url?: string;
}

export interface TfclientRun<T = unknown> extends RunResult {
  json?: T;
  error?: TfclientError;
}

export interface ModuleInstall {
  version: string;
  location: string;
  files: string[];
}

export interface ProviderInstall {
  version: string;
  filename: string;
  shasum: string;
  verified: boolean;
  signature: 'verified' | 'unverified-eddsa';
  key_id?: string;
  files: string[];
}

export interface MirrorInstall {
  version: string;
  url: string;
  hashes: string[];
  h1_archive: string;
  h1_dir: string;
  zh: string;
  verified: boolean;
  files: string[];
}

interface Common {
  constraint: string;
  out: string;
  token?: string;
  caFile?: string;
  timeoutMs?: number;
}

let built: Promise<string> | undefined;

/** Path of the built client; builds it when its sources changed since the cached build. */
export function tfclientBinary(): Promise<string> {
  built ??= build();
  return built;
}

async function build(): Promise<string> {
  const names = (await readdir(sourceDir)).filter((n) => n.endsWith('.go')).sort();
  const h = createHash('sha256');
  for (const n of names) h.update(n).update('\0').update(await readFile(path.join(sourceDir, n))).update('\0');
  const dir = path.join(cacheDir, 'tfclient', h.digest('hex').slice(0, 16));
  const bin = path.join(dir, 'tfclient');
  if (existsSync(bin)) return bin;
  await mkdir(dir, { recursive: true });
  // GOPATH mode: Debian's Go libraries live in /usr/share/gocode; no module proxy, no network.
  const gopath = await mkdtemp(path.join(os.tmpdir(), 'tfclient-gopath-'));
  const tmpBin = path.join(dir, `tfclient.${process.pid}.tmp`);
  try {
    await runOk('go', ['build', '-trimpath', '-o', tmpBin, '.'], {
      cwd: sourceDir,
      env: {
        GOPATH: `${gopath}:/usr/share/gocode`,
        GO111MODULE: 'off',
        GOFLAGS: '',
        GOPROXY: 'off',
        GOTOOLCHAIN: 'local',
        GOCACHE: path.join(cacheDir, 'tfclient', 'gocache'),
      },
      timeoutMs: 300_000,
    });
    await rename(tmpBin, bin); // atomic: a concurrent build of the same sources writes the same bytes
    // Builds of older sources are dead weight; the Go build cache stays.
    for (const old of await readdir(path.dirname(dir))) {
      if (old !== path.basename(dir) && old !== 'gocache') await rm(path.join(path.dirname(dir), old), { recursive: true, force: true });
    }
  } finally {
    await rm(gopath, { recursive: true, force: true });
    await rm(tmpBin, { force: true });
  }
  return bin;
}

/** Runs the client with raw arguments; never throws for a non-zero exit. */
export async function runTfclient<T = unknown>(args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<TfclientRun<T>> {
  const bin = await tfclientBinary();
  const r = await run(bin, args, { timeoutMs: opts.timeoutMs ?? 120_000 });
  return { ...r, json: parseJson<T>(r.stdout), error: parseJson<TfclientError>(r.stderr) };
}

function parseJson<T>(s: string): T | undefined {
  const line = s.trim().split('\n').pop();
  if (!line) return undefined;
  try {
    return JSON.parse(line) as T;
  } catch {
    return undefined;
  }
}

function commonArgs(o: Common): string[] {
  const a = ['--constraint', o.constraint, '--out', o.out];
  if (o.token !== undefined) a.push('--token', o.token);
  if (o.caFile !== undefined) a.push('--ca-file', o.caFile);
  return a;
}

/** Installs one module as `terraform init` does. */
export function tfModule(o: Common & { address: string }): Promise<TfclientRun<ModuleInstall>> {
  return runTfclient<ModuleInstall>(['module', o.address, ...commonArgs(o)], o);
}

/** Installs one provider from its registry as `terraform init` does. */
export function tfProvider(o: Common & { address: string; os?: string; arch?: string; keyringOut?: string }): Promise<TfclientRun<ProviderInstall>> {
  const a = ['provider', o.address, ...commonArgs(o), '--os', o.os ?? 'linux', '--arch', o.arch ?? 'amd64'];
  if (o.keyringOut !== undefined) a.push('--keyring-out', o.keyringOut);
  return runTfclient<ProviderInstall>(a, o);
}

/** Installs one provider from a network mirror (`provider_installation { network_mirror { url } }`). */
export function tfMirror(o: Common & { mirrorUrl: string; address: string; os?: string; arch?: string }): Promise<TfclientRun<MirrorInstall>> {
  return runTfclient<MirrorInstall>(['mirror', o.mirrorUrl, o.address, ...commonArgs(o), '--os', o.os ?? 'linux', '--arch', o.arch ?? 'amd64'], o);
}

/** Checks keyringOut's SHA256SUMS.sig with gpgv (keys dearmored into a keyring first: gpgv reads binary keyrings). */
export async function verifyWithGpgv(keyringOut: string): Promise<RunResult> {
  const keyring = path.join(keyringOut, 'keys.gpg');
  const keys = await openpgp.readKeys({ armoredKeys: await readFile(path.join(keyringOut, 'keys.asc'), 'utf8') });
  const binary = keys.map((k) => k.write());
  await writeFile(keyring, Buffer.concat(binary));
  return run('gpgv', ['--keyring', keyring, path.join(keyringOut, 'SHA256SUMS.sig'), path.join(keyringOut, 'SHA256SUMS')]);
}

/** Checks keyringOut's SHA256SUMS.sig with sqv (which reads armored keys). */
export function verifyWithSqv(keyringOut: string): Promise<RunResult> {
  return run('sqv', ['--keyring', path.join(keyringOut, 'keys.asc'), path.join(keyringOut, 'SHA256SUMS.sig'), path.join(keyringOut, 'SHA256SUMS')]);
}

/** A failure message with the client's own words, for expect(..., message). */
export function describeRun(r: TfclientRun): string {
  return describeFailure('tfclient', [], r);
}
