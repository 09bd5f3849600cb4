// What `packyard repo create/update/delete` take beyond plain flags: a version count, a confirmation.
import { createInterface } from 'node:readline/promises';
import { CliError } from '../client.js';

/** `--keep-versions N`: a whole number; 0 (only where a setting is taken away) means keep all. */
export function keepVersionsOption(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new CliError(`--keep-versions must be a whole number of versions, not "${value}"`);
  return Number(value);
}

/** The repository setting `--keep-versions` gives: null (0) takes retention away. */
export function retentionSetting(keep: number): { keepVersions: number } | null {
  return keep === 0 ? null : { keepVersions: keep };
}

/**
 * Deleting a repository cannot be undone: on a terminal the user types its name; without one
 * (a script) `--yes` must say it is meant.
 */
export async function confirmDeletion(name: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw new CliError(`not deleting repository ${name}: confirm with --yes (there is no terminal to ask on)`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`This deletes repository ${name}, every package and snapshot in it. Type the repository name to confirm: `);
    if (answer.trim() !== name) throw new CliError(`not deleting repository ${name}: the name typed does not match`);
  } finally {
    rl.close();
  }
}
