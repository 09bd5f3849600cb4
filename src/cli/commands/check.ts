import type { Command } from 'commander';
import { connect, type ClientOptions } from '../client.js';
import { printJson } from '../output.js';
import { target } from './repos.js';
import type { CheckResult } from '../../http/check.js';

export function registerCheck(program: Command): void {
  target(program.command('check').description('walk each repository as apt and dnf do (signed index, every index, every package file, following redirects) and name each broken file'))
    .option('--repo <name>', 'only this repository (default: every repository the token may read)')
    .option('--full', 'also download and hash every package file (indexes are always hashed)')
    .action(async (o: ClientOptions & { json?: boolean; repo?: string; full?: boolean }) => {
      const client = await connect(o);
      const repos = o.repo ? [o.repo] : ((await client.request('GET', '/api/v1/repos')) as { repos: { name: string }[] }).repos.map((r) => r.name);
      const results: CheckResult[] = [];
      for (const repo of repos) {
        const { check } = (await client.request('GET', `/api/v1/repos/${encodeURIComponent(repo)}/check${o.full ? '?full=1' : ''}`)) as { check: CheckResult };
        results.push(check);
        if (o.json) continue;
        if (check.ok) console.log(`${repo}: ok (${check.checked} files)`);
        else {
          console.log(`${repo}: ${check.broken.length} broken of ${check.checked} files`);
          for (const b of check.broken) console.log(`  BROKEN ${b.path}: ${b.problem} (${b.detail})`);
        }
      }
      if (o.json) printJson(results);
      if (results.some((r) => !r.ok)) process.exitCode = 1;
    });
}
