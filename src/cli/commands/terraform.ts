import type { Command } from 'commander';
import { openAsBlob, statSync } from 'node:fs';
import { CliError, connect, type ClientOptions } from '../client.js';
import { printJson } from '../output.js';
import { packDirectory } from '../tar-pack.js';
import { target } from './repos.js';

interface PublishAnswer {
  snapshot: { id: string; seq: number; createdAt: string; actor: string };
  changed: boolean;
  packages: { package: string; version: string; architecture: string; filename: string }[];
}

type Common = ClientOptions & { repo: string; version: string; replace?: boolean; json?: boolean };

const ARCHIVE = /\.(tar\.gz|tgz|zip)$/i;

/** A file to send as it is, streamed; a clear error when it is not there. */
async function archiveFile(path: string, what: RegExp, expected: string): Promise<{ body: ReadableStream<Uint8Array>; type: string }> {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new CliError(`${path}: no such file or directory`);
  if (!st.isFile()) throw new CliError(`${path}: not a file`);
  if (!what.test(path)) throw new CliError(`${path}: expected ${expected}`);
  const blob = await openAsBlob(path);
  return { body: blob.stream() as ReadableStream<Uint8Array>, type: /\.zip$/i.test(path) ? 'application/zip' : 'application/gzip' };
}

/** A module's body: a directory packed as a deterministic .tar.gz, or an archive as it is. */
async function moduleBody(path: string): Promise<{ body: ReadableStream<Uint8Array>; type: string }> {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new CliError(`${path}: no such file or directory`);
  if (st.isDirectory()) return { body: (await packDirectory(path)).stream, type: 'application/gzip' };
  return archiveFile(path, ARCHIVE, 'a directory or a .tar.gz, .tgz or .zip archive');
}

async function send(o: Common, path: string, body: { body: ReadableStream<Uint8Array>; type: string }, what: string, query = new URLSearchParams()): Promise<void> {
  if (o.replace) query.set('replace', 'true');
  const search = query.size ? `?${query}` : '';
  const answer = (await (await connect(o)).request('POST', `/api/v1/repos/${encodeURIComponent(o.repo)}/${path}${search}`, { body: body.body, headers: { 'content-type': body.type } })) as PublishAnswer;
  if (o.json) return printJson(answer);
  console.log(answer.changed ? `Published ${what} to ${o.repo}; snapshot ${answer.snapshot.id}` : `Nothing changed: ${o.repo} already had ${what} (the same bytes); snapshot ${answer.snapshot.id}`);
}

const segments = (...parts: string[]) => parts.map(encodeURIComponent).join('/');

function publishing(cmd: Command): Command {
  return target(cmd)
    .requiredOption('--repo <name>', 'repository (of type terraform; it is the Terraform namespace)')
    .requiredOption('--version <version>', 'semantic version, such as 1.2.0 (no leading v)')
    .option('--replace', 'replace a version that exists with different content');
}

export function registerTerraform(program: Command): void {
  const module = program.command('module').description('publish Terraform modules');
  publishing(module.command('publish').description('publish a module version: a directory (packed as .tar.gz, without .git/, .terraform/ and *.tfstate*) or a .tar.gz/.tgz/.zip archive').argument('<path>', 'module directory or archive'))
    .requiredOption('--name <name>', 'module name (HOST/<repo>/<name>/<system>)')
    .requiredOption('--system <system>', 'target system, such as aws or google')
    .action(async (path: string, o: Common & { name: string; system: string }) => {
      const body = await moduleBody(path);
      await send(o, `modules/${segments(o.name, o.system, o.version)}`, body, `${o.name}/${o.system} ${o.version}`);
    });

  target(module.command('rm').description('remove a module version (one atomic publish)'))
    .requiredOption('--repo <name>', 'repository')
    .requiredOption('--name <name>', 'module name')
    .requiredOption('--system <system>', 'target system')
    .requiredOption('--version <version>', 'the version to remove')
    .action(async (o: ClientOptions & { repo: string; name: string; system: string; version: string; json?: boolean }) => {
      const answer = (await (await connect(o)).request('DELETE', `/api/v1/repos/${encodeURIComponent(o.repo)}/modules/${segments(o.name, o.system, o.version)}`)) as { snapshot: { id: string } };
      if (o.json) return printJson(answer);
      console.log(`Removed ${o.name}/${o.system} ${o.version} from ${o.repo}; snapshot ${answer.snapshot.id}`);
    });

  const provider = program.command('provider').description('publish Terraform providers');
  publishing(provider.command('publish').description("publish a provider's zip for one platform (SHA256SUMS is signed with the server's key)").argument('<zip>', 'the provider package, a .zip'))
    .requiredOption('--type <type>', 'provider type (HOST/<repo>/<type>)')
    .requiredOption('--os <os>', 'operating system, such as linux, darwin, windows')
    .requiredOption('--arch <arch>', 'architecture, such as amd64, arm64')
    .option('--protocols <list>', 'plugin protocol versions, comma-separated', '5.0')
    .action(async (zip: string, o: Common & { type: string; os: string; arch: string; protocols: string }) => {
      const body = await archiveFile(zip, /\.zip$/i, 'a .zip (a provider package)');
      const query = new URLSearchParams({ protocols: o.protocols });
      await send(o, `providers/${segments(o.type, o.version, o.os, o.arch)}`, body, `terraform-provider-${o.type} ${o.version} ${o.os}_${o.arch}`, query);
    });

  const mirror = program.command('mirror').description("publish providers of other registries into the repository's provider network mirror");
  publishing(mirror.command('publish').description("publish a provider's zip for one platform into the network mirror").argument('<zip>', 'the provider package, a .zip, as its registry serves it'))
    .requiredOption('--provider <address>', "the provider's address, HOSTNAME/NAMESPACE/TYPE (e.g. registry.terraform.io/hashicorp/aws)")
    .requiredOption('--os <os>', 'operating system, such as linux, darwin, windows')
    .requiredOption('--arch <arch>', 'architecture, such as amd64, arm64')
    .action(async (zip: string, o: Common & { provider: string; os: string; arch: string }) => {
      const parts = o.provider.split('/');
      if (parts.length !== 3 || parts.some((p) => !p)) throw new CliError(`--provider must be HOSTNAME/NAMESPACE/TYPE, such as registry.terraform.io/hashicorp/aws, not "${o.provider}"`);
      const body = await archiveFile(zip, /\.zip$/i, 'a .zip (a provider package)');
      await send(o, `mirror/${segments(...parts, o.version, o.os, o.arch)}`, body, `${o.provider} ${o.version} ${o.os}_${o.arch}`);
    });
}
