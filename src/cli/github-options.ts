// The options of `repo create` and `repo update` that make GitHub Releases a repository's source.
// Secrets are named, never given: the token and the webhook secret come from environment
// variables, the App's key from a file, because a command line is visible to every user of the
// machine (`ps`) and kept in shell history.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError } from './client.js';

export interface GitHubOptions {
  /** The GitHub repository (owner/name); false: `--no-github`. */
  github?: string | false;
  delivery?: string;
  component?: string;
  prereleases?: string;
  githubApiUrl?: string;
  tokenEnv?: string;
  appId?: string;
  installationId?: string;
  privateKey?: string;
  webhookSecretEnv?: string;
}

const SECRETS_NOTE = 'not the token itself: see below';
const SECRETS_HELP = `
GitHub secrets (a token, the webhook secret) are read from the environment variables named
by --token-env and --webhook-secret-env, and a GitHub App's key from its file: they are never
taken on the command line, where ps and shell history would show them.`;

/** Adds the source options; `distribution` only where the command has no --distribution of its own. */
export function githubOptions(cmd: Command, { distribution = true, remove = false } = {}): Command {
  cmd
    .option('--github <owner/name>', 'sync the packages (.deb or .rpm assets) of this GitHub repository\'s releases')
    .option('--delivery <mode>', 'how clients get a package: redirect (to GitHub) or proxy (through Packyard); default redirect');
  if (distribution) cmd.option('--distribution <name>', 'the distribution releases are published to (default stable)');
  cmd
    .option('--component <name>', 'deb: the component releases are published to (default main)')
    .option('--prereleases <distribution>', 'publish prereleases to this distribution (default: skip them)')
    .option('--github-api-url <url>', 'GitHub Enterprise Server\'s API URL (default https://api.github.com)')
    .option('--token-env <var>', `the environment variable holding a GitHub token (${SECRETS_NOTE})`)
    .option('--app-id <n>', 'authenticate as this GitHub App (with --installation-id and --private-key)')
    .option('--installation-id <n>', "the App's installation id")
    .option('--private-key <file>', "the App's PEM private key file")
    .option('--webhook-secret-env <var>', 'the environment variable holding the secret GitHub signs webhook deliveries with');
  if (remove) cmd.option('--no-github', 'stop syncing from GitHub (its settings and secrets are removed)');
  return cmd.addHelpText('after', SECRETS_HELP);
}

/**
 * The `source` of the request body: `{github: {...}}` with the options given, `null` for
 * `--no-github`, or undefined when no source option was given.
 */
export function githubSource(o: GitHubOptions & { distribution?: string }, { creating = false } = {}): { github: Record<string, unknown> } | null | undefined {
  const app = [o.appId, o.installationId, o.privateKey];
  const given = [o.delivery, o.distribution, o.component, o.prereleases, o.githubApiUrl, o.tokenEnv, ...app, o.webhookSecretEnv].some((v) => v !== undefined);
  if (o.github === false) {
    if (given) throw new CliError('--no-github removes the source: give no other GitHub option with it');
    return null;
  }
  if (o.github === undefined && !given) return undefined;
  if (o.github === undefined && creating) throw new CliError('the GitHub options need --github owner/name');
  if (o.tokenEnv !== undefined && app.some((v) => v !== undefined)) throw new CliError('choose --token-env or --app-id/--installation-id/--private-key, not both');
  if (app.some((v) => v !== undefined) && !app.every((v) => v !== undefined)) throw new CliError('a GitHub App needs all three of --app-id, --installation-id and --private-key');
  const github: Record<string, unknown> = {};
  if (o.github !== undefined) github.repository = o.github;
  if (o.githubApiUrl !== undefined) github.apiUrl = o.githubApiUrl;
  if (o.delivery !== undefined) {
    if (o.delivery !== 'redirect' && o.delivery !== 'proxy') throw new CliError(`--delivery must be redirect or proxy, not "${o.delivery}"`);
    github.delivery = o.delivery;
  }
  if (o.distribution !== undefined) github.distribution = o.distribution;
  if (o.component !== undefined) github.component = o.component;
  if (o.prereleases !== undefined) github.prereleases = o.prereleases;
  if (o.tokenEnv !== undefined) github.token = fromEnv(o.tokenEnv, '--token-env');
  if (o.privateKey !== undefined) github.app = { id: o.appId, installationId: o.installationId, privateKey: readKey(o.privateKey) };
  if (o.webhookSecretEnv !== undefined) github.webhookSecret = fromEnv(o.webhookSecretEnv, '--webhook-secret-env');
  return { github };
}

function fromEnv(name: string, flag: string): string {
  const value = process.env[name];
  if (!value) throw new CliError(`${flag} ${name}: the environment variable ${name} is ${value === undefined ? 'not set' : 'empty'}`);
  return value;
}

function readKey(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`--private-key ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
}
