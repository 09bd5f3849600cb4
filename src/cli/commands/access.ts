import type { Command } from 'commander';
import { CliError, connect, type ClientOptions } from '../client.js';
import { printJson } from '../output.js';
import { commaList } from '../config.js';
import { target } from './repos.js';

interface TokenRow {
  id: string;
  name: string;
  repos: Record<string, string[]>;
  admin: boolean;
  createdAt: string;
  expiresAt: string | null;
}

interface PolicyRow {
  id: string;
  issuer: string;
  audience: string;
  claims: Record<string, string>;
  scopes: string[];
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerAccess(program: Command): void {
  const token = program.command('token').description('create, list and revoke API tokens (needs the admin token)');

  target(token.command('create').description('create a token; it is shown once'))
    .option('--name <name>', 'what the token is for (shown in audit trails)', 'token')
    .option('--repo <name>', 'a repository the token may use (repeat for several)', collect)
    .option('--scope <scopes>', 'comma-separated: read, write, admin (for every --repo)', 'read')
    .option('--admin', 'server-wide admin')
    .option('--expires <duration>', 'e.g. 12h, 30d, 8w (default: never)')
    .action(async (o: ClientOptions & { json?: boolean; name: string; repo?: string[]; scope: string; admin?: boolean; expires?: string }) => {
      if (!o.repo?.length && !o.admin) throw new CliError('name at least one --repo, or --admin');
      const scopes = commaList(o.scope);
      const body = { name: o.name, repos: Object.fromEntries((o.repo ?? []).map((r) => [r, scopes])), admin: !!o.admin, ...(o.expires ? { expiresIn: o.expires } : {}) };
      const created = (await (await connect(o)).request('POST', '/api/v1/tokens', { json: body })) as TokenRow & { token: string };
      if (o.json) return printJson(created);
      console.log(created.token);
      console.error(`Token ${created.id} (${describe(created)}); it is not shown again.`);
    });

  target(token.command('list').description('list tokens (never their secrets)')).action(async (o: ClientOptions & { json?: boolean }) => {
    const { tokens } = (await (await connect(o)).request('GET', '/api/v1/tokens')) as { tokens: TokenRow[] };
    if (o.json) return printJson(tokens);
    for (const t of tokens) console.log(`${t.id}\t${t.name}\t${describe(t)}`);
  });

  target(token.command('revoke').description('revoke a token').argument('<id>')).action(async (id: string, o: ClientOptions) => {
    await (await connect(o)).request('DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`);
    console.log(`Revoked token ${id}.`);
  });

  const oidc = program.command('oidc').description("manage a repository's OIDC trust policies (CI publishing without stored secrets)");

  target(oidc.command('add').description('trust tokens from an OIDC issuer whose claims match'))
    .requiredOption('--repo <name>', 'repository')
    .option('--issuer <url>', 'token issuer', 'https://token.actions.githubusercontent.com')
    .requiredOption('--audience <aud>', 'the audience the token must be for (e.g. your server URL)')
    .option('--claim <name=value>', 'a claim that must match, exactly or as a glob with * (repeat)', collect)
    .option('--scope <scopes>', 'comma-separated scopes granted: read, write, admin', 'write')
    .action(async (o: ClientOptions & { json?: boolean; repo: string; issuer: string; audience: string; claim?: string[]; scope: string }) => {
      const claims = Object.fromEntries(
        (o.claim ?? []).map((c) => {
          const eq = c.indexOf('=');
          if (eq < 1) throw new CliError(`--claim must be name=value, not "${c}"`);
          return [c.slice(0, eq), c.slice(eq + 1)];
        }),
      );
      const body = { issuer: o.issuer, audience: o.audience, claims, scopes: commaList(o.scope) };
      const { policy } = (await (await connect(o)).request('POST', `/api/v1/repos/${encodeURIComponent(o.repo)}/oidc-policies`, { json: body })) as { policy: PolicyRow };
      if (o.json) return printJson(policy);
      console.log(`Added OIDC policy ${policy.id} to ${o.repo}: ${policyText(policy)}`);
    });

  target(oidc.command('list').description("list a repository's OIDC trust policies"))
    .requiredOption('--repo <name>', 'repository')
    .action(async (o: ClientOptions & { json?: boolean; repo: string }) => {
      const { policies } = (await (await connect(o)).request('GET', `/api/v1/repos/${encodeURIComponent(o.repo)}/oidc-policies`)) as { policies: PolicyRow[] };
      if (o.json) return printJson(policies);
      for (const p of policies) console.log(`${p.id}\t${policyText(p)}`);
    });

  target(oidc.command('remove').description('remove an OIDC trust policy').argument('<id>'))
    .requiredOption('--repo <name>', 'repository')
    .action(async (id: string, o: ClientOptions & { repo: string }) => {
      await (await connect(o)).request('DELETE', `/api/v1/repos/${encodeURIComponent(o.repo)}/oidc-policies/${encodeURIComponent(id)}`);
      console.log(`Removed OIDC policy ${id} from ${o.repo}.`);
    });
}

function describe(t: TokenRow): string {
  const grants = [...(t.admin ? ['server admin'] : []), ...Object.entries(t.repos).map(([r, s]) => `${r}: ${s.join(',')}`)];
  return `${grants.join('; ')}${t.expiresAt ? `, expires ${t.expiresAt}` : ''}`;
}

function policyText(p: PolicyRow): string {
  const claims = Object.entries(p.claims).map(([k, v]) => `${k}=${v}`).join(' ');
  return `${p.issuer} aud=${p.audience}${claims ? ` ${claims}` : ''} → ${p.scopes.join(',')}`;
}
