// `wrangler deploy --dry-run`: wrangler.toml, the bindings and the bundle are what Cloudflare
// would accept (no account or network needed).
import { describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, run } from '../../helpers/exec.js';

describe('wrangler deploy', () => {
  it('succeeds as a dry run', async () => {
    const out = await mkdtemp(join(tmpdir(), 'packyard-deploy-'));
    const r = await run(join(repoRoot, 'node_modules/.bin/wrangler'), ['deploy', '--dry-run', '--outdir', out], { cwd: repoRoot, env: { WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' }, timeoutMs: 120_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/env\.BUCKET \(packyard\)\s+R2 Bucket/);
    expect(r.stdout).toMatch(/env\.PUBLISHER \(PublishCoordinator\)\s+Durable Object/);
    expect(r.stdout).toMatch(/--dry-run: exiting now/);
  }, 150_000);
});
