import type { Command } from 'commander';
import { CliError, connect, type ClientOptions } from '../client.js';
import { printJson } from '../output.js';
import { commaList, storeOptions } from '../config.js';
import { formats } from '../../formats/index.js';
import { githubOptions, githubSource, type GitHubOptions } from '../github-options.js';
import { describeSource, type SourceView } from '../source-view.js';
import { confirmDeletion, keepVersionsOption, retentionSetting } from './repo-options.js';

interface RepoSummary {
  name: string;
  type: string;
  public: boolean;
  architectures: string[];
  retention?: { keepVersions: number };
  distributions: Record<string, { components: string[]; retention?: { keepVersions: number } }>;
  snapshot: { id: string; createdAt: string; actor: string };
  source?: SourceView;
}

interface PackageRow {
  package: string;
  version: string;
  architecture: string;
  distribution: string;
  component: string;
  size: number;
}

/** `--url/--token` talk to a server; otherwise the store `--data` or `--storage` names (default ./packyard-data) is used directly. */
export function target(cmd: Command): Command {
  cmd
    .option('--url <url>', 'server URL (or PACKYARD_URL)')
    .option('--token <token>', 'API token (or PACKYARD_TOKEN)')
    .option('--oidc-audience <aud>', "in GitHub Actions: authenticate with the job's OIDC token for this audience (or PACKYARD_OIDC_AUDIENCE)");
  return storeOptions(cmd, ', when no --url').option('--json', 'print JSON');
}

export function registerRepos(program: Command): void {
  const repo = program.command('repo').description('create, list and show repositories');

  const create = target(repo.command('create').description('create a repository, uploaded to or synced from GitHub Releases (--github)').argument('<name>'))
    .option('--architectures <list>', 'comma-separated architectures (default amd64,arm64; for rpm x86_64,aarch64)')
    .option('--distribution <names...>', 'distributions to publish right away (deb: with component main); with --github, the one distribution releases go to (default stable)')
    .option('--public', 'readable without a token (repositories are private by default)')
    .option('--keep-versions <n>', 'keep only the newest N versions of each package in each distribution, component and architecture (default: all)', keepVersionsOption)
    .option('--type <type>', formats.types.map((t) => `${t} (${formats.get(t).title})`).join(' or '), formats.defaultType);
  githubOptions(create, { distribution: false }).action(
    async (name: string, o: ClientOptions & GitHubOptions & { json?: boolean; architectures?: string; distribution?: string[]; public?: boolean; type: string; keepVersions?: number }) => {
      const format = formats.get(o.type);
      const github = o.github !== undefined;
      if (github && (o.distribution?.length ?? 0) > 1) throw new CliError('with --github, give one --distribution: the one releases are published to');
      const source = githubSource({ ...o, distribution: github ? o.distribution?.[0] : undefined }, { creating: true });
      // A synced repository's distribution appears with its first sync.
      const distributions = Object.fromEntries((github ? [] : (o.distribution ?? [])).map((d) => [d, format.newDistribution()]));
      const architectures = o.architectures === undefined ? undefined : commaList(o.architectures);
      const retention = o.keepVersions === undefined ? null : retentionSetting(o.keepVersions);
      const body = { name, type: o.type, ...(architectures ? { architectures } : {}), distributions, public: !!o.public, ...(source ? { source } : {}), ...(retention ? { retention } : {}) };
      const { repo: created } = (await (await connect(o)).request('POST', '/api/v1/repos', { json: body })) as { repo: RepoSummary };
      if (o.json) return printJson(created);
      console.log(`Created ${created.public ? 'public' : 'private'} repository ${created.name}.`);
      if (created.source) console.log(`It syncs from ${describeSource(created.source)[0]}: run "packyard sync --repo ${created.name}", or let the server's periodic sync or GitHub's webhook do it.`);
    },
  );

  const update = target(repo.command('update').description("change a repository's settings and its GitHub source").argument('<name>'))
    .option('--public', 'make it readable without a token')
    .option('--private', 'make reading need a token')
    .option('--architectures <list>', 'comma-separated architectures')
    .option('--keep-versions <n>', 'keep only the newest N versions of each package in each place, pruning the rest now; 0 keeps all again', keepVersionsOption)
    .option('--remove-distribution <name>', 'remove a distribution: its packages, indexes and settings (one publish each; repeat for more)', (name: string, before: string[] = []) => [...before, name]);
  githubOptions(update, { remove: true }).action(
    async (
      name: string,
      o: ClientOptions & GitHubOptions & { json?: boolean; public?: boolean; private?: boolean; architectures?: string; distribution?: string; keepVersions?: number; removeDistribution?: string[] },
    ) => {
      if (o.public && o.private) throw new CliError('choose --public or --private, not both');
      // GitHub options left out keep their current values (the server merges them).
      const source = githubSource(o);
      const body = {
        ...(o.public || o.private ? { public: !!o.public } : {}),
        ...(o.architectures ? { architectures: commaList(o.architectures) } : {}),
        ...(source !== undefined ? { source } : {}),
        ...(o.keepVersions !== undefined ? { retention: retentionSetting(o.keepVersions) } : {}),
      };
      const client = await connect(o);
      const repoPath = `/api/v1/repos/${encodeURIComponent(name)}`;
      for (const distribution of o.removeDistribution ?? []) await client.request('DELETE', `${repoPath}/distributions/${encodeURIComponent(distribution)}`);
      // Only removals asked for: no settings publish besides.
      const removedOnly = (o.removeDistribution?.length ?? 0) > 0 && Object.keys(body).length === 0;
      const { repo: updated } = (await (removedOnly ? client.request('GET', repoPath) : client.request('PATCH', repoPath, { json: body }))) as { repo: RepoSummary };
      if (o.json) return printJson(updated);
      const kept = updated.retention ? `, keeps ${updated.retention.keepVersions} version${updated.retention.keepVersions === 1 ? '' : 's'}` : '';
      const removed = o.removeDistribution?.length ? `, removed ${o.removeDistribution.join(', ')}` : '';
      console.log(`Updated repository ${updated.name}: ${updated.public ? 'public' : 'private'}, ${updated.architectures.join(' ')}${kept}${removed}${updated.source ? `, syncs from ${describeSource(updated.source)[0]}` : ''}.`);
    },
  );

  target(repo.command('list').description('list repositories')).action(async (o: ClientOptions & { json?: boolean }) => {
    const { repos } = (await (await connect(o)).request('GET', '/api/v1/repos')) as { repos: RepoSummary[] };
    if (o.json) return printJson(repos);
    for (const r of repos) console.log(`${r.name}\t${Object.keys(r.distributions).join(',') || '-'}\t${r.snapshot.id}`);
  });

  target(repo.command('show').description('show a repository').argument('<name>')).action(async (name: string, o: ClientOptions & { json?: boolean }) => {
    const { repo: r } = (await (await connect(o)).request('GET', `/api/v1/repos/${encodeURIComponent(name)}`)) as { repo: RepoSummary };
    if (o.json) return printJson(r);
    console.log(`Repository:    ${r.name} (${r.type}, ${r.public ? 'public' : 'private'})`);
    console.log(`Architectures: ${r.architectures.join(' ')}`);
    if (r.retention) console.log(`Retention:     newest ${r.retention.keepVersions} versions of each package`);
    console.log(`Snapshot:      ${r.snapshot.id} (${r.snapshot.createdAt} by ${r.snapshot.actor})`);
    for (const [d, info] of Object.entries(r.distributions)) console.log(`Distribution:  ${d} [${info.components.join(' ')}]${info.retention ? ` (newest ${info.retention.keepVersions} versions)` : ''}`);
    if (r.source) for (const [i, line] of describeSource(r.source).entries()) console.log(`${i === 0 ? 'Source:' : ''}`.padEnd(15) + line);
  });

  target(repo.command('delete').description('delete a repository and everything in it (asks you to type its name, or needs --yes)').argument('<name>'))
    .option('-y, --yes', 'delete without asking (for scripts)')
    .action(async (name: string, o: ClientOptions & { yes?: boolean }) => {
      await confirmDeletion(name, o.yes);
      await (await connect(o)).request('DELETE', `/api/v1/repos/${encodeURIComponent(name)}`);
      console.log(`Deleted repository ${name}.`);
    });

  target(program.command('ls').description('list packages in a repository'))
    .requiredOption('--repo <name>', 'repository')
    .option('--distribution <name>', 'only this distribution (of a Terraform repository: modules, providers or mirror)')
    .option('-q, --query <text>', 'only packages whose name contains this')
    .action(async (o: ClientOptions & { json?: boolean; repo: string; distribution?: string; query?: string }) => {
      const query = new URLSearchParams();
      if (o.distribution) query.set('distribution', o.distribution);
      if (o.query) query.set('q', o.query);
      const { packages } = (await (await connect(o)).request('GET', `/api/v1/repos/${encodeURIComponent(o.repo)}/packages?${query}`)) as { packages: PackageRow[] };
      if (o.json) return printJson(packages);
      for (const p of packages) {
        // A component named for its one package (a Terraform module or provider) is said once.
        if (p.component === p.package) console.log(`${p.distribution}\t${p.package}\t${p.version}\t${p.architecture}`);
        else console.log(`${p.distribution}/${p.component}\t${p.package}\t${p.version}\t${p.architecture}`);
      }
    });

  target(program.command('rm').description('remove a package version from a distribution').argument('<package>').argument('<version>').argument('<architecture>'))
    .requiredOption('--repo <name>', 'repository')
    .requiredOption('--distribution <name>', 'distribution')
    .option('--component <name>', 'only from this component')
    .action(async (pkg: string, version: string, arch: string, o: ClientOptions & { json?: boolean; repo: string; distribution: string; component?: string }) => {
      const query = new URLSearchParams({ distribution: o.distribution });
      if (o.component) query.set('component', o.component);
      const path = [o.repo, 'packages', pkg, version, arch].map(encodeURIComponent);
      const result = (await (await connect(o)).request('DELETE', `/api/v1/repos/${path[0]}/${path.slice(1).join('/')}?${query}`)) as { snapshot: { id: string } };
      if (o.json) return printJson(result);
      console.log(`Removed ${pkg} ${version} (${arch}); published snapshot ${result.snapshot.id}.`);
    });

  target(program.command('snapshots').description("list a repository's snapshots: who published what, when"))
    .requiredOption('--repo <name>', 'repository')
    .option('--limit <n>', 'how many', '20')
    .action(async (o: ClientOptions & { json?: boolean; repo: string; limit: string }) => {
      const { snapshots } = (await (await connect(o)).request('GET', `/api/v1/repos/${encodeURIComponent(o.repo)}/snapshots?limit=${Number(o.limit)}`)) as {
        snapshots: { id: string; createdAt: string; actor: string; changes: { action: string; package?: string; version?: string; distribution?: string; reason?: string; snapshot?: string; from?: { distribution: string; repo?: string } }[] }[];
      };
      if (o.json) return printJson(snapshots);
      const describe = (c: (typeof snapshots)[number]['changes'][number]) =>
        [c.action === 'rollback' ? `rollback to ${c.snapshot}` : c.action, c.package, c.version, c.distribution && c.action !== 'rollback' ? `in ${c.distribution}` : c.distribution, c.from && `from ${c.from.repo ? `${c.from.repo}/` : ''}${c.from.distribution}`, c.reason && `(${c.reason})`].filter(Boolean).join(' ');
      for (const s of snapshots) console.log(`${s.id}\t${s.createdAt}\t${s.actor}\t${s.changes.map(describe).join(', ')}`);
    });
}
