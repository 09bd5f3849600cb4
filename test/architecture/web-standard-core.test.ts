// DESIGN §1: everything but the hosts and the CLI runs in a Worker isolate. Bundling the core
// for the browser platform (as Worker bundlers resolve packages: `browser` fields honoured)
// fails on any Node built-in it pulls in, directly or through a library.
import { describe, expect, it } from 'vitest';
import { build } from 'esbuild';
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { repoRoot } from '../helpers/exec.js';

const NODE_ONLY = /^src\/(hosts|cli)\//;

async function coreModules(dir = join(repoRoot, 'src')): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await coreModules(full)));
    else if (entry.name.endsWith('.ts') && !NODE_ONLY.test(relative(repoRoot, full))) out.push(full);
  }
  return out;
}

describe('the core is web-standard', () => {
  it('bundles every core module without Node built-ins', async () => {
    const entryPoints = await coreModules();
    expect(entryPoints.length).toBeGreaterThan(20);
    const result = await build({
      entryPoints,
      bundle: true,
      write: false,
      outdir: 'out',
      platform: 'browser',
      format: 'esm',
      conditions: ['workerd', 'worker', 'browser'],
      logLevel: 'silent',
      metafile: true,
    }).catch((err: { errors?: { text: string }[] }) => ({ errors: err.errors ?? [{ text: String(err) }] }));
    const errors = 'errors' in result ? result.errors.map((e) => e.text) : [];
    expect(errors).toEqual([]);
  });
});
