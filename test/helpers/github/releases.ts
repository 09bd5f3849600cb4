// Driving a Packyard host (Node or Worker) whose repositories sync from the GitHub stand-in, as
// an operator and as clients do: repositories created with a GitHub source, synced through the
// API, read tokens, pool files fetched and hashed as they stream.
import { createHash } from 'node:crypto';
import { expect } from 'vitest';

/** A running host: `packyard serve` (test/helpers/server.ts) or the Worker (test/helpers/worker.ts). */
export interface Host {
  url: string;
  token: string;
  stop(): Promise<unknown>;
}

export interface SyncedRepo {
  name: string;
  report: SyncReport;
  /** A read token, for a private repository. */
  readToken?: string;
}

export interface SyncReport {
  snapshot: string | null;
  added: { package: string; version: string }[];
  skipped: { reason: string; asset?: string }[];
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The admin's JSON request to the host's API; throws with the answer unless `status` (default 2xx). */
export async function adminJson<T>(host: Host, path: string, init: { method?: string; body?: unknown } = {}, status?: number): Promise<T> {
  const res = await fetch(host.url + path, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${host.token}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
  });
  const text = await res.text();
  if (status !== undefined ? res.status !== status : !res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: HTTP ${res.status}: ${text.slice(0, 2000)}`);
  return JSON.parse(text) as T;
}

/**
 * `POST /api/v1/repos` with `"source": {"github": github}`, then `POST …/sync`; a private
 * repository gets a read token. The sync must have published and skipped nothing.
 */
export async function createSynced(
  host: Host,
  name: string,
  options: { type: 'deb' | 'rpm'; public: boolean; github: Record<string, unknown>; distributions?: Record<string, object> },
): Promise<SyncedRepo> {
  await adminJson(host, '/api/v1/repos', { method: 'POST', body: { name, type: options.type, public: options.public, ...(options.distributions ? { distributions: options.distributions } : {}), source: { github: options.github } } }, 201);
  const { report } = await adminJson<{ report: SyncReport }>(host, `/api/v1/repos/${name}/sync`, { method: 'POST' });
  expect(report.snapshot, JSON.stringify(report)).toEqual(expect.any(String));
  expect(report.skipped, JSON.stringify(report)).toEqual([]);
  if (options.public) return { name, report };
  const { token } = await adminJson<{ token: string }>(host, '/api/v1/tokens', { method: 'POST', body: { name: `${name}-read`, repos: { [name]: ['read'] } } }, 201);
  return { name, report, readToken: token };
}

/** The id of the repository's current snapshot. */
export async function snapshotId(host: Host, repo: string): Promise<string> {
  return (await adminJson<{ repo: { snapshot: { id: string } } }>(host, `/api/v1/repos/${repo}`)).repo.snapshot.id;
}

/** A pool URL's first answer, redirects not followed: 302 with a Location (redirect) or 200 (proxy). */
export async function firstAnswer(url: string, token?: string): Promise<{ status: number; location: string | null }> {
  const res = await fetch(url, { redirect: 'manual', headers: token ? { authorization: `Bearer ${token}` } : {} });
  await res.body?.cancel();
  return { status: res.status, location: res.headers.get('location') };
}

/** GET `url` following redirects, hashing the body as it streams: its SHA-256 and size, never the whole body in memory. */
export async function streamedDigest(url: string, headers: Record<string, string> = {}): Promise<{ status: number; sha256: string; size: number; redirected: boolean }> {
  const res = await fetch(url, { headers });
  const hash = createHash('sha256');
  let size = 0;
  const reader = res.body!.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    hash.update(r.value);
    size += r.value.length;
  }
  return { status: res.status, sha256: hash.digest('hex'), size, redirected: res.redirected };
}
