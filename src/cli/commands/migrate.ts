import type { Command } from 'commander';
import { mkdir, stat } from 'node:fs/promises';
import { FsStorage } from '../../hosts/node/fs-storage.js';
import { createNodeHasher } from '../../hosts/node/hasher.js';
import { describeLocation, parseLocation, s3StorageAt, type StoreLocation } from '../../hosts/node/store-location.js';
import { migrate } from '../../core/migrate.js';
import type { Storage } from '../../storage/types.js';
import { CliError } from '../client.js';
import { printJson, progressBar } from '../output.js';

interface MigrateFlags {
  data?: string;
  from?: string;
  to?: string;
  force?: boolean;
  json?: boolean;
}

/** The two ends: `--from` and `--to`, one of which `--data` may stand for. */
export function endsOf(o: MigrateFlags): { from: StoreLocation; to: StoreLocation } {
  const given = [o.from, o.to].filter((x) => x !== undefined).length;
  if (o.data !== undefined ? given !== 1 : given !== 2) throw new CliError('give --data DIR with one of --from or --to, or both --from and --to (a directory or s3://BUCKET[/PREFIX])');
  const from = parseLocation(o.from ?? o.data!);
  const to = parseLocation(o.to ?? o.data!);
  if (describeLocation(from).shown === describeLocation(to).shown) throw new CliError(`--from and --to name the same store (${describeLocation(from).shown})`);
  return { from, to };
}

/** A Storage at a location without opening a store there (which would generate a signing key). */
async function storageAt(location: StoreLocation, create: boolean): Promise<Storage> {
  if (location.kind === 's3') return s3StorageAt(location);
  if (create) await mkdir(location.path, { recursive: true, mode: 0o700 });
  else if (!(await stat(location.path).catch(() => null))?.isDirectory()) throw new CliError(`no data directory ${location.path}`);
  return new FsStorage(location.path);
}

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('copy a whole store (every repository, key and token) to another place: a data directory into a bucket, or back')
    .option('--data <dir>', 'the data directory: the source with --to, the target with --from')
    .option('--from <location>', 'the source: a directory or s3://BUCKET[/PREFIX]')
    .option('--to <location>', 'the target: a directory or s3://BUCKET[/PREFIX] (credentials and endpoint from AWS_*)')
    .option('--force', 'write into a target that already holds other objects')
    .option('--json', 'print a JSON summary')
    .addHelpText(
      'after',
      `
Every object is verified by its size and SHA-256 read back from the target. An interrupted
migration resumes when run again (objects already copied are skipped). Heads, tokens and keys are
written last, so the target never names a file it lacks. Stop the servers writing to the source
first: what they publish during the copy may not be moved.

Examples:
  packyard migrate --data ./packyard-data --to s3://my-bucket/packyard
  packyard migrate --from s3://my-bucket/packyard --data ./restored`,
    )
    .action(async (o: MigrateFlags) => {
      const { from, to } = endsOf(o);
      const source = await storageAt(from, false);
      const target = await storageAt(to, true);
      let bar: ReturnType<typeof progressBar> | undefined;
      const report = await migrate(source, target, {
        from: describeLocation(from).shown,
        force: o.force,
        createHasher: createNodeHasher,
        onStart: (total) => (bar = progressBar(total, 'migrate')),
        onProgress: (n) => bar?.tick(n),
      }).finally(() => bar?.stop());
      if (o.json) return printJson(report);
      const uploads = report.unfinishedUploads ? `; ${report.unfinishedUploads} unfinished resumable upload(s) not moved (send them again)` : '';
      console.log(`Migrated ${describeLocation(from).shown} to ${describeLocation(to).shown}: ${report.objects} objects (${report.bytes} bytes) copied, ${report.skipped} already there, in ${report.seconds}s${uploads}.`);
    });
}
