import { Command, CommanderError } from 'commander';
import { PackyardError } from '../util/errors.js';
import { CliError } from './client.js';
import { registerServe } from './commands/serve.js';
import { registerPublish } from './commands/publish.js';
import { registerRepos } from './commands/repos.js';
import { registerMaintenance } from './commands/maintenance.js';
import { registerAccess } from './commands/access.js';
import { registerSync } from './commands/sync.js';
import { registerCheck } from './commands/check.js';
import { registerTerraform } from './commands/terraform.js';
import { registerMigrate } from './commands/migrate.js';
import { registerPromote } from './commands/promote.js';
import { applyConfigFile } from './config.js';

const argv = [...process.argv];
try {
  applyConfigFile(argv);
} catch (err) {
  process.stderr.write(`packyard: ${(err as Error).message}\n`);
  process.exit(1);
}

const program = new Command('packyard')
  .description('A private package registry: signed APT and YUM/DNF repositories, served from a local data directory.')
  .version('0.1.0')
  .option('--config <file>', 'JSON config file (or PACKYARD_CONFIG): data, host, port, adminToken, keyAlgorithm, url, token, syncInterval')
  // The program's own options (--version) come before a command: `module publish --version 1.0.0` is the module's.
  .enablePositionalOptions()
  .showHelpAfterError()
  .exitOverride();

registerServe(program);
registerPublish(program);
registerRepos(program);
registerMaintenance(program);
registerAccess(program);
registerSync(program);
registerCheck(program);
registerTerraform(program);
registerMigrate(program);
registerPromote(program);

try {
  await program.parseAsync(argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (err instanceof CliError || err instanceof PackyardError) {
    // Errors from the service itself read like the API's: message, then status and code.
    const detail = err instanceof PackyardError ? ` (${err.status} ${err.code})` : '';
    process.stderr.write(`packyard: ${err.message}${detail}\n`);
    process.exit(1);
  }
  throw err;
}
