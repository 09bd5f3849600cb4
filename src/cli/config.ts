import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Command } from 'commander';
import { CliError } from './client.js';
import { DEFAULT_DIR } from '../hosts/node/store-location.js';

/** Keys of a config file and the environment variables they stand for. */
const KEYS = {
  data: 'PACKYARD_DATA',
  storage: 'PACKYARD_STORAGE',
  s3Redirect: 'PACKYARD_S3_REDIRECT',
  host: 'PACKYARD_HOST',
  port: 'PACKYARD_PORT',
  adminToken: 'PACKYARD_ADMIN_TOKEN',
  keyAlgorithm: 'PACKYARD_KEY_ALGORITHM',
  keyPassphrase: 'PACKYARD_KEY_PASSPHRASE',
  url: 'PACKYARD_URL',
  token: 'PACKYARD_TOKEN',
  syncInterval: 'PACKYARD_SYNC_INTERVAL',
} as const;

const schema = z.object(Object.fromEntries(Object.keys(KEYS).map((k) => [k, z.union([z.string(), z.number()]).optional()]))).strict();

/**
 * Reads the JSON config file named by `--config FILE` or PACKYARD_CONFIG. Its values fill in
 * environment variables that are not set, so the order is: flags, environment, file, defaults.
 */
export function applyConfigFile(argv: string[]): void {
  const flag = argv.findIndex((a) => a === '--config' || a.startsWith('--config='));
  let path = process.env.PACKYARD_CONFIG;
  if (flag >= 0) {
    path = argv[flag]!.includes('=') ? argv[flag]!.slice('--config='.length) : argv[flag + 1];
    argv.splice(flag, argv[flag]!.includes('=') ? 1 : 2);
  }
  if (!path) return;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new CliError(`config file ${path}: ${(err as Error).message}`);
  }
  const result = schema.safeParse(parsed);
  if (!result.success) throw new CliError(`config file ${path}: ${result.error.issues.map((i) => `${i.path.join('.') || 'file'}: ${i.message}`).join('; ')}`);
  for (const [key, value] of Object.entries(result.data)) {
    const name = KEYS[key as keyof typeof KEYS];
    if (value !== undefined && process.env[name] === undefined) process.env[name] = String(value);
  }
}

/** An option's comma-separated list (`--scope read,write`), without blanks. */
export function commaList(value: string): string[] {
  return value.split(',').map((item) => item.trim()).filter(Boolean);
}

/** `--data` and `--storage` for a command that works on a store (`when`: a condition for the help). */
export function storeOptions(cmd: Command, when = ''): Command {
  return cmd
    .option('--data <dir>', `data directory${when} (or PACKYARD_DATA; default ${DEFAULT_DIR})`)
    .option('--storage <url>', `a store in a bucket${when}: s3://BUCKET[/PREFIX], credentials and endpoint from AWS_* (or PACKYARD_STORAGE)`);
}
