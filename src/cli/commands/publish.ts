import type { Command } from 'commander';
import { stat } from 'node:fs/promises';
import { connect, CliError } from '../client.js';
import { multipartFromFiles } from '../multipart-body.js';
import { printJson, progressBar } from '../output.js';

interface PublishOptions {
  repo: string;
  distribution: string;
  component: string;
  replace?: boolean;
  json?: boolean;
  url?: string;
  token?: string;
  data?: string;
}

interface UploadResponse {
  snapshot: { id: string };
  changed: boolean;
  packages: { package: string; version: string; architecture: string; filename: string }[];
}

/** `add` (straight into a data directory) and `upload` (to a server) share one path: the API. */
async function publish(files: string[], options: PublishOptions, createRepo: boolean): Promise<void> {
  for (const file of files) {
    const st = await stat(file).catch(() => null);
    if (!st?.isFile()) throw new CliError(`${file}: no such file`);
  }
  const client = await connect(options);
  if (createRepo) {
    await client.request('POST', '/api/v1/repos', { json: { name: options.repo, type: 'deb' } }).catch((err) => {
      if (!(err instanceof CliError && /repo-exists/.test(err.message))) throw err;
    });
  }
  let bar = { tick(_n: number) {}, stop() {} };
  const { body, contentType, length } = await multipartFromFiles(files, (n) => bar.tick(n));
  if (!options.json) bar = progressBar(length, `Uploading ${files.length} file${files.length === 1 ? '' : 's'}`);
  const query = new URLSearchParams({ distribution: options.distribution, component: options.component });
  if (options.replace) query.set('replace', 'true');
  let result: UploadResponse;
  try {
    result = (await client.request('POST', `/api/v1/repos/${encodeURIComponent(options.repo)}/packages?${query}`, { body, headers: { 'content-type': contentType } })) as UploadResponse;
  } finally {
    bar.stop();
  }
  if (options.json) return printJson(result);
  for (const p of result.packages) console.log(`${p.package} ${p.version} ${p.architecture}  ${p.filename}`);
  console.log(result.changed ? `Published snapshot ${result.snapshot.id} of ${options.repo} (${options.distribution}/${options.component}).` : `Nothing changed: ${options.repo} already had these packages.`);
}

export function registerPublish(program: Command): void {
  const common = (cmd: Command) =>
    cmd
      .requiredOption('--repo <name>', 'repository')
      .requiredOption('--distribution <name>', 'distribution (e.g. stable, bookworm)')
      .option('--component <name>', 'component', 'main')
      .option('--replace', 'replace a package that exists with different content')
      .option('--json', 'print the result as JSON');

  common(program.command('add').description('ingest .deb files and publish them straight into a data directory (no server needed)').argument('<files...>', '.deb files'))
    .option('--data <dir>', 'data directory (or PACKYARD_DATA)', process.env.PACKYARD_DATA ?? './packyard-data')
    .action((files: string[], options: PublishOptions) => publish(files, { ...options, url: undefined }, true));

  common(program.command('upload').description('upload .deb files to a Packyard server as one atomic batch').argument('<files...>', '.deb files'))
    .option('--url <url>', 'server URL (or PACKYARD_URL)')
    .option('--token <token>', 'API token (or PACKYARD_TOKEN)')
    .action((files: string[], options: PublishOptions) => {
      if (!options.url && !process.env.PACKYARD_URL) throw new CliError('upload needs --url (or PACKYARD_URL); to publish into a local data directory use `packyard add`');
      return publish(files, options, false);
    });
}
