import { z } from 'zod';
import { COMPONENT_NAME, DISTRIBUTION_NAME } from '../../core/settings.js';
import { parseInput } from '../../util/input.js';
import { PackyardError } from '../../util/errors.js';
import type { GitHubCredentials } from './auth.js';
import { checkRepoName } from './types.js';

/** What a repository kept in GitHub Releases stores in its snapshots (no secrets). */
export interface GitHubSettings {
  repository: string;
  apiUrl: string;
  delivery: 'redirect' | 'proxy';
  distribution: string;
  component: string;
  /** The distribution prereleases go to; null: they are skipped. */
  prereleases: string | null;
  /** For a Terraform repository: the module the tags are versions of (`name/system`); by default from a repository named `terraform-<system>-<name>`. */
  module?: string;
}

/** What is stored apart from the snapshots, never shown back. */
export interface GitHubSecrets {
  token?: string;
  app?: { id: string; installationId: string; privateKey: string };
  webhookSecret?: string;
}

export const DEFAULT_API_URL = 'https://api.github.com';

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/;
const secret = z.string().min(1).max(16_384);
const id = z.union([z.number().int().positive(), z.string().regex(/^\d{1,20}$/, 'must be a number')]).transform(String);
const app = z.strictObject({
  id,
  installationId: id,
  privateKey: z.string().regex(/-----BEGIN (RSA )?PRIVATE KEY-----/, 'must be the PEM private key GitHub gave the App (BEGIN RSA PRIVATE KEY)'),
});

// Every field optional here: a change names only what it changes; `null` takes a secret away.
const input = z.strictObject({
  repository: z.string().refine((r) => ok(() => checkRepoName(r)), 'must be a GitHub repository, owner/name'),
  apiUrl: z
    .string()
    .url()
    .refine((u) => u.startsWith('https://') || (u.startsWith('http://') && LOOPBACK.test(new URL(u).hostname)), 'must be an https URL (http only on this machine: the token would travel in clear)')
    .transform((u) => u.replace(/\/+$/, '')),
  delivery: z.enum(['redirect', 'proxy']),
  distribution: z.string().regex(DISTRIBUTION_NAME),
  component: z.string().regex(COMPONENT_NAME),
  prereleases: z.string().regex(DISTRIBUTION_NAME).nullable(),
  module: z.string().regex(/^[0-9A-Za-z][0-9A-Za-z_-]{0,63}\/[0-9A-Za-z][0-9A-Za-z_-]{0,63}$/, 'must be name/system, e.g. network/aws'),
  token: secret.nullable(),
  app: app.nullable(),
  webhookSecret: secret.nullable(),
}).partial();

function ok(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch {
    return false;
  }
}

/**
 * The settings and secrets of `"source": {"github": …}` as given, over the current ones when
 * it changes a repository (fields left out stay as they are).
 */
export function configureGitHub(given: unknown, current?: { settings: GitHubSettings; secrets: GitHubSecrets }): { settings: GitHubSettings; secrets: GitHubSecrets; fresh: boolean } {
  const spec = parseInput(input, given, 'source.github');
  const repository = spec.repository ?? current?.settings.repository;
  if (!repository) throw new PackyardError(400, 'invalid-request', 'source.github.repository: required (owner/name)');
  if (spec.token && spec.app) throw new PackyardError(400, 'invalid-request', 'source.github: give "token" or "app", not both');
  const settings: GitHubSettings = {
    repository,
    apiUrl: spec.apiUrl ?? current?.settings.apiUrl ?? DEFAULT_API_URL,
    delivery: spec.delivery ?? current?.settings.delivery ?? 'redirect',
    distribution: spec.distribution ?? current?.settings.distribution ?? 'stable',
    component: spec.component ?? current?.settings.component ?? 'main',
    prereleases: spec.prereleases !== undefined ? spec.prereleases : (current?.settings.prereleases ?? null),
    ...((spec.module ?? current?.settings.module) ? { module: spec.module ?? current!.settings.module } : {}),
  };
  // Credentials were given for one repository on one server: pointed elsewhere, they stay
  // behind unless given again (a repository admin must not carry someone's token to another host).
  const moved = current !== undefined && (settings.repository.toLowerCase() !== current.settings.repository.toLowerCase() || new URL(settings.apiUrl).origin !== new URL(current.settings.apiUrl).origin);
  const { token, app, ...kept } = current?.secrets ?? {};
  const secrets: GitHubSecrets = moved ? kept : { ...kept, ...(token ? { token } : {}), ...(app ? { app } : {}) };
  for (const name of ['token', 'app', 'webhookSecret'] as const) {
    const value = spec[name];
    if (value === null) delete secrets[name];
    else if (value !== undefined) (secrets as Record<string, unknown>)[name] = value;
  }
  // One way to authenticate: the one just given replaces the other.
  if (spec.token) delete secrets.app;
  if (spec.app) delete secrets.token;
  // The listing's ETags belong to a repository, a server and the credentials that saw them.
  const fresh = moved || JSON.stringify(credentialsOf(secrets) ?? null) !== JSON.stringify(credentialsOf(current?.secrets) ?? null);
  return { settings, secrets, fresh };
}

/** The credentials the client uses, if any are set. */
export function credentialsOf(secrets: GitHubSecrets | undefined): GitHubCredentials | undefined {
  if (secrets?.token) return { token: secrets.token };
  if (secrets?.app) return { app: secrets.app };
  return undefined;
}

/** What a GET shows: the settings, and which secrets are set (never their values). */
export interface GitHubSourceView extends GitHubSettings {
  token: 'set' | null;
  app: { id: string; installationId: string; privateKey: 'set' } | null;
  webhookSecret: 'set' | null;
}

export function showGitHub(settings: GitHubSettings, secrets: GitHubSecrets | undefined): GitHubSourceView {
  return { ...settings, token: secrets?.token ? 'set' : null, app: secrets?.app ? { id: secrets.app.id, installationId: secrets.app.installationId, privateKey: 'set' } : null, webhookSecret: secrets?.webhookSecret ? 'set' : null };
}
