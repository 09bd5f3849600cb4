import type { Command } from 'commander';
import { openStore, loadAdminToken } from '../../hosts/node/runtime.js';
import { locationOf } from '../../hosts/node/store-location.js';
import { PackyardError } from '../../util/errors.js';
import { log } from '../../hosts/node/log.js';
import { formats } from '../../formats/index.js';
import { ApiTokens } from '../../auth/tokens.js';
import { CliError } from '../client.js';
import { parseDuration } from './maintenance.js';
import { storeOptions } from '../config.js';

interface ServeOptions {
  data?: string;
  storage?: string;
  s3Redirect?: boolean;
  host: string;
  port: string;
  defaultRepo: boolean;
  headerTimeout: string;
  idleTimeout: string;
  requestTimeout: string;
  maxAnonymousConnections: string;
  syncInterval: string;
}

export function registerServe(program: Command): void {
  storeOptions(program.command('serve').description('serve repositories and the API from a data directory or a bucket'))
    .option('--s3-redirect', 'with --storage s3://…: answer a package download with a redirect to a presigned URL of the bucket, valid 5 minutes (or PACKYARD_S3_REDIRECT=1)', process.env.PACKYARD_S3_REDIRECT === '1')
    .option('--host <host>', 'address to listen on (or PACKYARD_HOST)', process.env.PACKYARD_HOST ?? '127.0.0.1')
    .option('--port <port>', 'port (or PACKYARD_PORT)', process.env.PACKYARD_PORT ?? '8080')
    .option('--no-default-repo', 'do not create the repository "default" in a new data directory')
    .option('--header-timeout <s>', 'seconds to receive a request\'s headers (or PACKYARD_HEADER_TIMEOUT)', process.env.PACKYARD_HEADER_TIMEOUT ?? '20')
    .option('--idle-timeout <s>', 'seconds a request may send nothing, or its client read nothing (or PACKYARD_IDLE_TIMEOUT)', process.env.PACKYARD_IDLE_TIMEOUT ?? '60')
    .option('--request-timeout <s>', 'seconds to receive a whole request, an upload too; 0: no limit (or PACKYARD_REQUEST_TIMEOUT)', process.env.PACKYARD_REQUEST_TIMEOUT ?? '3600')
    .option('--max-anonymous-connections <n>', 'connections from one address not yet authenticated; 0: no limit (or PACKYARD_MAX_ANONYMOUS_CONNECTIONS)', process.env.PACKYARD_MAX_ANONYMOUS_CONNECTIONS ?? '64')
    .option('--sync-interval <duration>', 'sync repositories that have a source (GitHub Releases) this often, e.g. 10m, 1h; 0 or off: never (or PACKYARD_SYNC_INTERVAL)', process.env.PACKYARD_SYNC_INTERVAL ?? '10m')
    .action(async (o: ServeOptions) => {
      const limits = {
        headerTimeout: count(o.headerTimeout, '--header-timeout', 1),
        idleTimeout: count(o.idleTimeout, '--idle-timeout', 1),
        requestTimeout: count(o.requestTimeout, '--request-timeout', 0),
        maxAnonymousPerAddress: count(o.maxAnonymousConnections, '--max-anonymous-connections', 0),
      };
      if (limits.requestTimeout > 0 && limits.requestTimeout < limits.headerTimeout) {
        throw new CliError(`--request-timeout ${limits.requestTimeout} is shorter than --header-timeout ${limits.headerTimeout}: a request's headers are part of it`);
      }
      const syncEvery = o.syncInterval.trim() === 'off' ? 0 : parseDuration(o.syncInterval);
      // Secrets are shown on a terminal only: a service manager keeps whatever is printed (the journal).
      const terminal = process.stderr.isTTY === true;
      const location = locationOf(o);
      if (o.s3Redirect && location.kind !== 's3') throw new CliError('--s3-redirect needs a store in a bucket (--storage s3://…)');
      const runtime = await openStore(location);
      const { admin, created } = await loadAdminToken(runtime.storage);
      const fresh = (await runtime.service.listRepos()).length === 0 && runtime.generatedKey;
      const readTokens = new Map<string, string>();
      if (fresh && o.defaultRepo) {
        await runtime.service.createRepo({ name: 'default', type: formats.defaultType, distributions: { stable: formats.get(formats.defaultType).newDistribution() } }, 'packyard serve').catch((err: unknown) => {
          // Another node on the same bucket made it first.
          if (!(err instanceof PackyardError && err.code === 'repo-exists')) throw err;
        });
        // Private like every repository: a read token for apt, shown with the lines to paste.
        if (terminal) {
          const { token } = await new ApiTokens(runtime.storage).create({ name: 'apt', repos: { default: ['read'] } }, 'packyard serve', new Date());
          readTokens.set('default', token);
        }
      }
      // The HTTP server's modules load only for `serve`, so other commands start faster.
      const { startServer } = await import('../../hosts/node/server.js');
      const server = await startServer(runtime, admin, o.host, Number(o.port), limits, { s3Redirect: o.s3Redirect });
      log({ level: 'info', msg: 'listening', url: server.url, storage: runtime.shown });
      const { startPeriodicSync } = await import('../../hosts/node/periodic-sync.js');
      const syncs = syncEvery > 0 ? startPeriodicSync(runtime.sources, syncEvery) : undefined;

      const out: string[] = [`Packyard is serving ${runtime.shown} at ${server.url}`];
      if (runtime.generatedKey) out.push(`Generated signing key ${runtime.generatedKey}.`);
      if (created && terminal) out.push('', 'Admin token (shown once; only its hash is stored):', `  ${created}`);
      if (created && !terminal) {
        const make = `packyard token create ${runtime.flag}`;
        log({ level: 'warn', msg: 'the new admin token is not shown: stderr is not a terminal, and a service manager keeps what is printed', hint: `${runtime.fs ? 'on this machine, as the owner of the data directory' : "with the bucket's credentials"}, ${make} --admin --name admin prints an admin token (${make} --repo <repo> --scope read a read token)` });
      }
      for (const repo of await runtime.service.listRepos()) {
        const snapshot = await runtime.service.getRepo(repo);
        out.push('', ...formats.of(snapshot).clientSetup(server.url, snapshot, readTokens.get(repo)));
      }
      (terminal ? process.stderr : process.stdout).write(out.join('\n') + '\n');

      const stop = async () => {
        syncs?.stop();
        await server.close();
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}

/** A whole number option of at least `min`. */
function count(value: string, flag: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new CliError(`${flag} must be a whole number of at least ${min}, not "${value}"`);
  return n;
}
