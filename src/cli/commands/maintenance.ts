import type { Command } from 'commander';
import { readFile, writeFile } from 'node:fs/promises';
import { openStore, type Runtime } from '../../hosts/node/runtime.js';
import { locationOf, parseLocation, s3StorageAt, type StoreFlags } from '../../hosts/node/store-location.js';
import { createNodeHasher } from '../../hosts/node/hasher.js';
import { fsck } from '../../core/fsck.js';
import { gc } from '../../core/gc.js';
import { DEFAULT_RETENTION, type Retention } from '../../core/references.js';
import { exportTo, exportTree } from '../../hosts/node/export.js';
import { bucketTarget } from '../../hosts/node/export-bucket.js';
import { CliError } from '../client.js';
import { printJson } from '../output.js';
import { storeOptions } from '../config.js';

const dataOption = (cmd: Command) => storeOptions(cmd);
/** The store the command's flags (or the environment) name. */
const open = (o: StoreFlags) => openStore(locationOf(o));

export function parseDuration(text: string): number {
  const match = /^(\d+)\s*(s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new CliError(`invalid duration "${text}": use e.g. 90s, 30m, 12h, 7d`);
  return Number(match[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(match[2] ?? 's') as 's']!;
}

function retention(o: { grace?: string; generations?: string }): Retention {
  const generations = o.generations === undefined ? DEFAULT_RETENTION.generations : Number(o.generations);
  if (!Number.isSafeInteger(generations) || generations < 0) throw new CliError(`invalid --generations "${o.generations}": use a whole number, 0 or more`);
  return { graceMs: o.grace ? parseDuration(o.grace) : DEFAULT_RETENTION.graceMs, generations };
}

/** The same retention options for gc and fsck: fsck checks what gc keeps. */
const retentionOptions = (cmd: Command) =>
  cmd
    .option('--grace <duration>', 'keep superseded files this long (e.g. 36h, 7d; at least 10m)', '1d')
    .option('--generations <n>', 'and at least this many superseded snapshots', '3');

async function reposOf(runtime: Runtime, repo?: string): Promise<string[]> {
  return repo ? [repo] : runtime.service.listRepos();
}

export function registerMaintenance(program: Command): void {
  retentionOptions(dataOption(program.command('fsck').description('check that every file the retained snapshots serve is stored intact; report garbage')))
    .option('--repo <name>', 'only this repository')
    .option('--quick', 'check sizes only, do not re-hash package files')
    .option('--json', 'print JSON')
    .action(async (o: StoreFlags & { repo?: string; grace?: string; generations?: string; quick?: boolean; json?: boolean }) => {
      const kept = retention(o);
      const runtime = await open(o);
      const reports = [];
      for (const repo of await reposOf(runtime, o.repo)) reports.push(await fsck(runtime.service.store, createNodeHasher, repo, { verifyContent: !o.quick, retention: kept }));
      const problems = reports.reduce((n, r) => n + r.problems.length, 0);
      if (o.json) printJson(reports);
      else {
        for (const r of reports) {
          console.log(`${r.repo}: snapshot ${r.snapshot}, ${r.checked} objects checked, ${r.problems.length} problems, ${r.garbage.objects} unreferenced objects (${r.garbage.bytes} bytes)`);
          for (const p of r.problems) console.log(`  ${p.problem}: ${p.path ?? p.key}${p.detail ? ` (${p.detail})` : ''}`);
        }
      }
      if (problems > 0) process.exitCode = 1;
    });

  retentionOptions(dataOption(program.command('gc').description('delete objects no retained snapshot references (safe beside a running server)')))
    .option('--repo <name>', 'only this repository')
    .option('--dry-run', 'only report what would be deleted')
    .option('--json', 'print JSON')
    .action(async (o: StoreFlags & { repo?: string; grace?: string; generations?: string; dryRun?: boolean; json?: boolean }) => {
      const kept = retention(o);
      const runtime = await open(o);
      const reports = [];
      for (const repo of await reposOf(runtime, o.repo)) reports.push(await gc(runtime.service.store, repo, { retention: kept, dryRun: o.dryRun }));
      if (o.json) return printJson(reports);
      for (const r of reports) {
        const uploads = r.abandonedUploads ? `, ended ${r.abandonedUploads} abandoned upload${r.abandonedUploads > 1 ? 's' : ''}` : '';
        const writes = r.abortedWrites ? `, aborted ${r.abortedWrites} unfinished multipart write${r.abortedWrites > 1 ? 's' : ''}` : '';
        console.log(`${r.repo}: ${r.dryRun ? 'would delete' : 'deleted'} ${r.deleted.objects} objects (${r.deleted.bytes} bytes), ${r.kept} referenced${uploads}${writes}`);
      }
    });

  dataOption(program.command('export').description('write a repository as a static tree any web server can serve, into a directory or a bucket').argument('[outdir]'))
    .requiredOption('--repo <name>', 'repository')
    .option('--to <location>', 'where to: a directory, or s3://BUCKET[/PREFIX] (only what changed is uploaded, indexes last)')
    .option('--grace <duration>', 'with --to s3://: keep files the tree no longer lists this long (e.g. 36h, 7d, 0)')
    .option('--base-url <url>', 'the URL the tree will be served at, for generated files such as a .repo (default: the directory as a file:// URL, or the bucket\'s URL)')
    .action(async (outdir: string | undefined, o: StoreFlags & { repo: string; to?: string; grace?: string; baseUrl?: string }) => {
      if ((outdir === undefined) === (o.to === undefined)) throw new CliError('give the directory to export to, or --to DIR|s3://BUCKET[/PREFIX] (one of them)');
      if (o.baseUrl !== undefined && !/^(https?|file):\/\/\S+$/.test(o.baseUrl)) throw new CliError(`--base-url must be an http://, https:// or file:// URL, not "${o.baseUrl}"`);
      const to = parseLocation(o.to ?? outdir!);
      if (to.kind === 'dir') {
        if (o.grace !== undefined) throw new CliError('--grace applies to an export to a bucket (--to s3://…)');
        const runtime = await open(o);
        const count = await exportTree(runtime, o.repo, to.path, o.baseUrl);
        return console.log(`Exported ${count} files of ${o.repo} to ${to.path}.`);
      }
      const graceMs = parseDuration(o.grace ?? '1d');
      const bucket = s3StorageAt(to);
      const runtime = await open(o);
      const r = await exportTo(runtime, o.repo, bucketTarget(bucket, { graceMs }), o.baseUrl ?? bucket.url);
      console.log(`Exported ${o.repo} to ${to.url}: ${r.uploaded} files uploaded, ${r.unchanged} unchanged, ${r.deleted} superseded deleted, ${r.kept} superseded kept for their grace period.`);
    });

  const key = program.command('key').description('manage the signing keys (every key signs every Release)');
  dataOption(key.command('generate').description('generate a signing key'))
    .option('--algorithm <name>', 'ed25519 or rsa4096', 'ed25519')
    .option('--name <text>', 'user ID', 'Packyard repository signing key')
    .action(async (o: StoreFlags & { algorithm: string; name: string }) => {
      if (o.algorithm !== 'ed25519' && o.algorithm !== 'rsa4096') throw new CliError(`unknown algorithm "${o.algorithm}": use ed25519 or rsa4096`);
      const runtime = await open(o);
      // A fresh data directory has just generated its default key: replace it rather than sign twice.
      if (runtime.generatedKey) await runtime.keyring.remove(runtime.generatedKey);
      console.log(`Generated signing key ${await runtime.keyring.generate(o.name, o.algorithm)}. Republish (or restart the server) to sign with it.`);
    });
  dataOption(key.command('import').description('import an armored private key').argument('<file>', 'armored private key file (- for stdin)'))
    .option('--passphrase <text>', 'passphrase of the key (or PACKYARD_KEY_PASSPHRASE)')
    .action(async (file: string, o: StoreFlags & { passphrase?: string }) => {
      const armored = file === '-' ? await readStdin() : await readFile(file, 'utf8');
      const runtime = await open(o);
      const fingerprint = await runtime.keyring.import(armored, o.passphrase ?? process.env.PACKYARD_KEY_PASSPHRASE);
      if (runtime.generatedKey) await runtime.keyring.remove(runtime.generatedKey);
      console.log(`Imported signing key ${fingerprint}.`);
    });
  dataOption(key.command('export').description('print the public keys (armored), or write them binary with --output'))
    .option('--output <file>', 'write the binary keyring (for signed-by) to this file')
    .option('--private', 'print the private keys instead (armored, unencrypted), e.g. for the Worker secret PACKYARD_SIGNING_KEY')
    .action(async (o: StoreFlags & { output?: string; private?: boolean }) => {
      const runtime = await open(o);
      if (o.private) process.stdout.write((await runtime.keyring.armoredKeys()).join('\n'));
      else if (o.output) await writeFile(o.output, runtime.signer.publicKeyBinary);
      else process.stdout.write(runtime.signer.publicKeyArmored);
    });
  dataOption(key.command('list').description('list signing key fingerprints'))
    .option('--json', 'print JSON')
    .action(async (o: StoreFlags & { json?: boolean }) => {
      const runtime = await open(o);
      const fingerprints = await runtime.keyring.fingerprints();
      if (o.json) return printJson(fingerprints);
      for (const f of fingerprints) console.log(f);
    });
  dataOption(key.command('remove').description('remove a signing key').argument('<fingerprint>')).action(async (fingerprint: string, o: StoreFlags) => {
    const runtime = await open(o);
    if ((await runtime.keyring.fingerprints()).length <= 1) throw new CliError('refusing to remove the last signing key');
    if (!(await runtime.keyring.remove(fingerprint))) throw new CliError(`no signing key ${fingerprint}`);
    console.log(`Removed signing key ${fingerprint}.`);
  });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
