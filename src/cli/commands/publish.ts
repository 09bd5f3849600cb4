import type { Command } from 'commander';
import { createReadStream, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { basename } from 'node:path';
import { hostname, userInfo } from 'node:os';
import { PackyardError } from '../../util/errors.js';
import { openStore } from '../../hosts/node/runtime.js';
import { describeLocation, locationOf } from '../../hosts/node/store-location.js';
import type { RepositoryService } from '../../core/service.js';
import { IngestPool } from '../../hosts/node/ingest-pool.js';
import type { UploadFile } from '../../core/service.js';
import { snapshotInfo } from '../../core/views.js';
import { formats } from '../../formats/index.js';
import { connect, CliError } from '../client.js';
import { multipartFromFiles } from '../multipart-body.js';
import { sendInParts } from '../resumable-upload.js';
import { printJson, progressBar } from '../output.js';
import { commaList, storeOptions } from '../config.js';

const SMALL_FILE = 4 * 1024 * 1024;
/** Fewer small files than this are ingested on the main thread: a worker thread takes ~50 ms to start. */
const POOL_MIN = 16;
/** Files above this size are sent as resumable uploads, in parts (request bodies are capped at the edge). */
const RESUMABLE_ABOVE = 64 * 1024 * 1024;

interface PublishOptions {
  repo: string;
  distribution: string;
  component: string;
  replace?: boolean;
  createDistribution?: boolean;
  json?: boolean;
  url?: string;
  token?: string;
  oidcAudience?: string;
  data?: string;
  storage?: string;
  resumableAbove?: string;
  create?: boolean;
  /** With --create: the new repository's settings (as `repo create` takes them). */
  architectures?: string;
  public?: boolean;
}

interface UploadResponse {
  snapshot: { id: string; seq: number; createdAt: string; actor: string };
  changed: boolean;
  packages: { package: string; version: string; architecture: string; filename: string }[];
}

/** The files' sizes; a clear error for any that is missing. */
function fileSizes(files: string[]): number[] {
  return files.map((file) => {
    const st = statSync(file, { throwIfNoEntry: false });
    if (!st?.isFile()) throw new CliError(`${file}: no such file`);
    return st.size;
  });
}

function report(result: UploadResponse, options: PublishOptions): void {
  if (options.json) return printJson(result);
  // One write: thousands of console.log calls cost more than the rest of a small add.
  const lines = result.packages.map((p) => `${p.package} ${p.version} ${p.architecture}  ${p.filename}\n`);
  process.stdout.write(lines.join(''));
  console.log(result.changed ? `Published snapshot ${result.snapshot.id} of ${options.repo} (${options.distribution}/${options.component}).` : `Nothing changed: ${options.repo} already had these packages.`);
}

/** `packyard add`: the repository service on a store, reading several files at once. */
async function add(files: string[], options: PublishOptions): Promise<void> {
  const location = locationOf(options);
  if ((options.architectures !== undefined || options.public) && !options.create) throw new CliError('--architectures and --public set up a repository --create makes: give --create too');
  // Many small files are ingested whole by worker threads; big ones, and a few small ones (not
  // worth a thread's start-up), are streamed here. The threads start first, so that they load
  // their code while this one looks at the files (5,000 stats: ~40 ms) and opens the data
  // directory; they are stopped again if too few of the files are small. Into a bucket every
  // file streams from here: the time goes to the requests, which this thread makes side by side.
  let pool = files.length >= POOL_MIN && location.kind === 'dir' ? new IngestPool(location.path, files.length) : undefined;
  let sizes: number[];
  try {
    sizes = fileSizes(files);
  } catch (err) {
    await pool?.close();
    throw err;
  }
  const small = sizes.filter((size) => size <= SMALL_FILE).length;
  if (pool && small < POOL_MIN) {
    await pool.close();
    pool = undefined;
  }
  const pooled = (i: number) => pool !== undefined && sizes[i]! <= SMALL_FILE;
  let bar: ReturnType<typeof progressBar> | undefined;
  try {
    const { service } = await openStore(location);
    const exists = await service.getRepo(options.repo).then(
      () => true,
      (err: unknown) => {
        if (err instanceof PackyardError && err.code === 'repo-not-found') return false;
        throw err;
      },
    );
    if (!exists) await createFor(service, files, options, describeLocation(location));
    bar = options.json ? undefined : progressBar(sizes.reduce((a, b) => a + b, 0), `Adding ${files.length} file${files.length === 1 ? '' : 's'}`);
    const uploads: UploadFile[] = files.map((path, i) => {
      const name = basename(path);
      if (pooled(i)) return { name, ingest: (repo, type, placement) => pool!.ingest(type, repo, placement, path).finally(() => bar?.tick(sizes[i]!)) };
      return { name, open: () => counted(Readable.toWeb(createReadStream(path, { highWaterMark: 1 << 20 })) as ReadableStream<Uint8Array>, (n) => bar?.tick(n)) };
    });
    const result = await service.upload(options.repo, uploads, {
      distribution: options.distribution,
      component: options.component,
      replace: options.replace,
      createDistribution: options.createDistribution,
      actor: `${userInfo().username}@${hostname()} (packyard add)`,
      // Enough at once for each of the pool's threads to have several messages queued (ingest-pool.ts).
      concurrency: 128,
    });
    report({ snapshot: snapshotInfo(result.snapshot), changed: result.changed, packages: result.packages }, options);
  } finally {
    bar?.stop();
    await pool?.close();
  }
}

/**
 * A repository that does not exist is made only when asked (`--create`): a typo in `--repo`
 * would otherwise publish into a new, empty repository. It is of the type of its files.
 */
async function createFor(service: RepositoryService, files: string[], options: PublishOptions, store: { shown: string; flag: string }): Promise<void> {
  if (!options.create) throw new CliError(`repository "${options.repo}" does not exist in ${store.shown}: add --create, or create it first (packyard repo create ${options.repo} --type <${formats.types.join('|')}> ${store.flag})`);
  const format = formats.forFiles(files);
  if (!format) throw new CliError(`cannot tell the type of repository "${options.repo}" from these files: they are not all ${formats.types.map((t) => formats.get(t).extensions.join('/')).join(' or ')} files`);
  const architectures = options.architectures === undefined ? undefined : commaList(options.architectures);
  const settings = { ...(architectures ? { architectures } : {}), public: !!options.public };
  await service.createRepo({ name: options.repo, type: format.type, ...settings }, 'packyard add').catch((err) => {
    // Made by someone else meanwhile: fine, the upload checks its type.
    if (!(err instanceof PackyardError && err.code === 'repo-exists')) throw err;
  });
}

/** `packyard upload`: one multipart request, streamed from disk. */
async function upload(files: string[], options: PublishOptions): Promise<void> {
  const sizes = fileSizes(files);
  const threshold = Number(options.resumableAbove ?? RESUMABLE_ABOVE);
  if (!Number.isSafeInteger(threshold) || threshold < 0) throw new CliError(`--resumable-above must be a number of bytes, not "${options.resumableAbove}"`);
  const client = await connect(options);
  const inParts = files.flatMap((path, i) => (sizes[i]! > threshold ? [{ path, size: sizes[i]! }] : []));
  const whole = files.filter((_, i) => sizes[i]! <= threshold);
  let bar = { tick(_n: number) {}, stop() {} };
  if (!options.json) bar = progressBar(sizes.reduce((a, b) => a + b, 0), `Uploading ${files.length} file${files.length === 1 ? '' : 's'}`);
  const query = new URLSearchParams({ distribution: options.distribution, component: options.component });
  if (options.replace) query.set('replace', 'true');
  if (options.createDistribution) query.set('createDistribution', 'true');
  try {
    // Big files go first, each in parts of its own; the batch request then names them.
    const uploads: string[] = [];
    for (const { path, size } of inParts) uploads.push(await sendInParts(client, options.repo, path, size, (n) => bar.tick(n)));
    const { body, contentType } = await multipartFromFiles(whole, (n) => bar.tick(n), uploads);
    report((await client.request('POST', `/api/v1/repos/${encodeURIComponent(options.repo)}/packages?${query}`, { body, headers: { 'content-type': contentType } })) as UploadResponse, options);
  } finally {
    bar.stop();
  }
}

function counted(stream: ReadableStream<Uint8Array>, onBytes: (n: number) => void): ReadableStream<Uint8Array> {
  return stream.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        onBytes(chunk.length);
        controller.enqueue(chunk);
      },
    }),
  );
}

export function registerPublish(program: Command): void {
  const common = (cmd: Command) =>
    cmd
      .requiredOption('--repo <name>', 'repository')
      .requiredOption('--distribution <name>', 'distribution (e.g. stable, bookworm)')
      .option('--component <name>', 'component', 'main')
      .option('--replace', 'replace a package that exists with different content')
      .option('--create-distribution', 'publish into a distribution (or component) the repository does not have yet, creating it (without: refused, as a typo)')
      .option('--json', 'print the result as JSON');

  storeOptions(common(program.command('add').description('ingest .deb or .rpm files and publish them straight into a data directory or a bucket (no server needed)').argument('<files...>', '.deb or .rpm files')))
    .option('--create', 'create the repository if it does not exist (of the type of the files)')
    .option('--architectures <list>', 'with --create: comma-separated architectures of a repository it creates (default amd64,arm64; for rpm x86_64,aarch64)')
    .option('--public', 'with --create: a repository it creates is readable without a token (private by default)')
    .action((files: string[], options: PublishOptions) => add(files, options));

  common(program.command('upload').description('upload .deb or .rpm files to a Packyard server as one atomic batch').argument('<files...>', '.deb or .rpm files'))
    .option('--url <url>', 'server URL (or PACKYARD_URL)')
    .option('--token <token>', 'API token (or PACKYARD_TOKEN)')
    .option('--oidc-audience <aud>', "in GitHub Actions: authenticate with the job's OIDC token for this audience (or PACKYARD_OIDC_AUDIENCE)")
    .option('--resumable-above <bytes>', 'send files larger than this in parts, as resumable uploads', String(RESUMABLE_ABOVE))
    .action((files: string[], options: PublishOptions) => {
      if (!options.url && !process.env.PACKYARD_URL) throw new CliError('upload needs --url (or PACKYARD_URL); to publish into a local data directory use `packyard add`');
      return upload(files, options);
    });
}
