import type { Command } from 'commander';
import { CliError, connect, type ClientOptions } from '../client.js';
import { printJson } from '../output.js';
import { target } from './repos.js';
import type { SyncReport } from '../../sources/index.js';

export function registerSync(program: Command): void {
  target(program.command('sync').description('sync repositories from their source (GitHub Releases) now'))
    .option('--repo <name>', 'only this repository (default: every repository that has a source)')
    .action(async (o: ClientOptions & { json?: boolean; repo?: string }) => {
      const client = await connect(o);
      let repos = o.repo ? [o.repo] : [];
      if (!o.repo) {
        const listed = (await client.request('GET', '/api/v1/repos')) as { repos: { name: string; source?: unknown }[] };
        repos = listed.repos.filter((r) => r.source).map((r) => r.name);
        if (repos.length === 0 && !o.json) console.log('No repository has a source to sync from.');
      }
      // One at a time: they may share one GitHub rate limit.
      const reports: SyncReport[] = [];
      const failed: string[] = [];
      for (const repo of repos) {
        try {
          const { report } = (await client.request('POST', `/api/v1/repos/${encodeURIComponent(repo)}/sync`)) as { report: SyncReport };
          reports.push(report);
          if (!o.json) console.log(summary(report));
        } catch (err) {
          if (!(err instanceof CliError)) throw err;
          failed.push(repo);
          // A rate limit's message says when to retry; the next repository may have its own credentials.
          process.stderr.write(`packyard: ${repo}: ${err.message}\n`);
        }
      }
      if (o.json) printJson(reports);
      if (failed.length > 0) throw new CliError(`${failed.length} of ${repos.length} ${repos.length === 1 ? 'repository' : 'repositories'} failed to sync: ${failed.join(', ')}`);
    });
}

/** A report in a few lines: what changed, what was skipped and why, the rate limit left. */
export function summary(r: SyncReport): string {
  const lines = [`${r.repo} from ${r.repository}: ${r.snapshot ? `published snapshot ${r.snapshot}` : 'no change'}`];
  const counts = [`${r.added.length} added`, `${r.changed.length} changed`, `${r.removed.length} removed`, `${r.unchanged} unchanged`, `${r.skipped.length} skipped`, `${r.ignored} other assets ignored`];
  lines.push(`  ${counts.join(', ')}`);
  for (const [what, list] of [['added', r.added], ['changed', r.changed], ['removed', r.removed]] as const) {
    for (const p of list) lines.push(`  ${what} ${p.package} ${p.version} (${p.architecture}) in ${p.distribution}, from ${p.release}/${p.asset}`);
  }
  for (const s of r.skipped) lines.push(`  skipped ${s.release}${s.asset ? `/${s.asset}` : ''}: ${s.reason}`);
  if (r.rateLimit) lines.push(`  GitHub rate limit: ${r.rateLimit.remaining} of ${r.rateLimit.limit} left (${r.rateLimit.resource}), reset ${r.rateLimit.reset}`);
  return lines.join('\n');
}
