import type { Command } from 'commander';
import { CliError, connect, type ClientOptions } from '../client.js';
import { printJson } from '../output.js';
import { target } from './repos.js';

interface SnapshotInfo {
  id: string;
  createdAt: string;
  actor: string;
}

interface PlaceDiff {
  distribution: string;
  component?: string;
  architecture: string;
  added: { package: string; version: string }[];
  removed: { package: string; version: string }[];
  changed: { package: string; from: { version: string }; to: { version: string } }[];
}

/** `NAME=VERSION` as the user typed it. */
function packageSpec(arg: string): { name: string; version: string } {
  const at = arg.indexOf('=');
  if (at <= 0 || at === arg.length - 1) throw new CliError(`"${arg}": give each package as NAME=VERSION (e.g. foo=1.2-1)`);
  return { name: arg.slice(0, at), version: arg.slice(at + 1) };
}

/** Releasing in stages: `copy` (and move), `rollback`, `snapshots diff`. */
export function registerPromote(program: Command): void {
  target(program.command('copy').description('copy package versions from one distribution to another (of this or another repository), in one publish').argument('<repo>').argument('<packages...>', 'NAME=VERSION'))
    .requiredOption('--from <distribution>', 'the distribution they are in')
    .requiredOption('--to <distribution>', 'the distribution they go to')
    .option('--from-repo <name>', 'copy from this repository (of the same type); default: <repo>')
    .option('--arch <architecture>', 'only this architecture (default: every one the version is built for)')
    .option('--move', 'also remove them from --from (within one repository)')
    .option('--create-distribution', 'create --to if the repository does not have it (otherwise refused, as a typo)')
    .action(async (repo: string, packages: string[], o: ClientOptions & { json?: boolean; from: string; to: string; fromRepo?: string; arch?: string; move?: boolean; createDistribution?: boolean }) => {
      const body = {
        from: o.from,
        to: o.to,
        packages: packages.map(packageSpec),
        ...(o.fromRepo ? { fromRepo: o.fromRepo } : {}),
        ...(o.arch ? { architecture: o.arch } : {}),
        ...(o.move ? { move: true } : {}),
        ...(o.createDistribution ? { createDistribution: true } : {}),
      };
      const result = (await (await connect(o)).request('POST', `/api/v1/repos/${encodeURIComponent(repo)}/copy`, { json: body })) as {
        snapshot: SnapshotInfo;
        changed: boolean;
        packages: { package: string; version: string; architecture: string }[];
      };
      if (o.json) return printJson(result);
      const what = result.packages.map((p) => `${p.package} ${p.version} (${p.architecture})`).join(', ');
      if (!result.changed) return console.log(`Nothing to do: ${what} already in ${o.to} (snapshot ${result.snapshot.id}).`);
      console.log(`${o.move ? 'Moved' : 'Copied'} ${what} from ${o.fromRepo ? `${o.fromRepo}/` : ''}${o.from} to ${o.to}; published snapshot ${result.snapshot.id}.`);
    });

  target(program.command('rollback').description("publish a snapshot's content again (of every distribution, or one), signed now; the history keeps everything").argument('<repo>').argument('<snapshot>', 'snapshot id (packyard snapshots --repo <repo>)'))
    .option('--distribution <name>', 'only this distribution (with its settings)')
    .action(async (repo: string, snapshot: string, o: ClientOptions & { json?: boolean; distribution?: string }) => {
      const body = { snapshot, ...(o.distribution ? { distribution: o.distribution } : {}) };
      const result = (await (await connect(o)).request('POST', `/api/v1/repos/${encodeURIComponent(repo)}/rollback`, { json: body })) as { snapshot: SnapshotInfo };
      if (o.json) return printJson(result);
      console.log(`Rolled back ${repo}${o.distribution ? ` (${o.distribution})` : ''} to snapshot ${snapshot}; published snapshot ${result.snapshot.id}.`);
    });

  // A subcommand of `snapshots`, whose options (--repo, --url, --data, --json) it shares.
  const snapshots = program.commands.find((c) => c.name() === 'snapshots');
  if (!snapshots) throw new Error('the snapshots command is registered first');
  // Its options may follow `diff` too (the program's options are positional, and so were its commands').
  snapshots.enablePositionalOptions(false);
  snapshots
    .command('diff')
    .description('packages added, removed and changed between two snapshots, per distribution, component and architecture')
    .argument('<from>', 'snapshot id')
    .argument('[to]', 'snapshot id (default: the current one)')
    .configureHelp({ showGlobalOptions: true })
    .action(async (from: string, to: string | undefined, _o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<ClientOptions & { json?: boolean; repo: string }>();
      const query = new URLSearchParams({ from, ...(to ? { to } : {}) });
      const result = (await (await connect(o)).request('GET', `/api/v1/repos/${encodeURIComponent(o.repo)}/diff?${query}`)) as { from: SnapshotInfo; to: SnapshotInfo; places: PlaceDiff[] };
      if (o.json) return printJson(result);
      if (result.places.length === 0) return console.log(`No packages differ between ${result.from.id} and ${result.to.id}.`);
      for (const p of result.places) {
        const place = [p.distribution, p.component, p.architecture].filter(Boolean).join('/');
        for (const a of p.added) console.log(`${place}\t+ ${a.package} ${a.version}`);
        for (const r of p.removed) console.log(`${place}\t- ${r.package} ${r.version}`);
        for (const c of p.changed) console.log(`${place}\t~ ${c.package} ${c.from.version === c.to.version ? `${c.to.version} (other content)` : `${c.from.version} -> ${c.to.version}`}`);
      }
    });
}
