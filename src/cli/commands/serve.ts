import type { Command } from 'commander';
import { openDataDir, loadAdminToken } from '../../hosts/node/runtime.js';
import { log } from '../../hosts/node/log.js';
import { aptLines } from '../apt-lines.js';
import { ApiTokens } from '../../auth/tokens.js';

interface ServeOptions {
  data: string;
  host: string;
  port: string;
  defaultRepo: boolean;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve repositories and the API from a data directory')
    .option('--data <dir>', 'data directory (or PACKYARD_DATA)', process.env.PACKYARD_DATA ?? './packyard-data')
    .option('--host <host>', 'address to listen on (or PACKYARD_HOST)', process.env.PACKYARD_HOST ?? '127.0.0.1')
    .option('--port <port>', 'port (or PACKYARD_PORT)', process.env.PACKYARD_PORT ?? '8080')
    .option('--no-default-repo', 'do not create the repository "default" in a new data directory')
    .action(async (o: ServeOptions) => {
      const runtime = await openDataDir(o.data);
      const { admin, created } = await loadAdminToken(runtime.storage);
      const fresh = (await runtime.service.listRepos()).length === 0 && runtime.generatedKey;
      const readTokens = new Map<string, string>();
      if (fresh && o.defaultRepo) {
        await runtime.service.createRepo({ name: 'default', type: 'deb', distributions: { stable: { components: ['main'] } } }, 'packyard serve');
        // Private like every repository: a read token for apt, shown with the lines to paste.
        const { token } = await new ApiTokens(runtime.storage).create({ name: 'apt', repos: { default: ['read'] } }, 'packyard serve', new Date());
        readTokens.set('default', token);
      }
      // The HTTP server's modules load only for `serve`, so other commands start faster.
      const { startServer } = await import('../../hosts/node/server.js');
      const server = await startServer(runtime, admin, o.host, Number(o.port));
      log({ level: 'info', msg: 'listening', url: server.url, data: runtime.dataDir });

      const out: string[] = [`Packyard is serving ${runtime.dataDir} at ${server.url}`];
      if (runtime.generatedKey) out.push(`Generated signing key ${runtime.generatedKey}.`);
      if (created) out.push('', 'Admin token (shown once; only its hash is stored):', `  ${created}`);
      for (const repo of await runtime.service.listRepos()) out.push('', ...aptLines(server.url, await runtime.service.getRepo(repo), readTokens.get(repo)));
      process.stdout.write(out.join('\n') + '\n');

      const stop = async () => {
        await server.close();
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
