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

  it('bundles the Worker entry without Node built-ins, and says how big it is', async () => {
    const result = await build({
      entryPoints: [join(repoRoot, 'src/hosts/worker/index.ts')],
      bundle: true,
      write: false,
      minify: true,
      outfile: 'worker.js',
      platform: 'browser',
      format: 'esm',
      conditions: ['workerd', 'worker', 'browser'],
      logLevel: 'silent',
    }).catch((err: { errors?: { text: string }[] }) => ({ errors: err.errors ?? [{ text: String(err) }] }));
    expect('errors' in result ? result.errors.map((e) => e.text) : []).toEqual([]);
    if (!('outputFiles' in result) || !result.outputFiles) throw new Error('no bundle');
    const bytes = result.outputFiles[0]!.contents;
    const gzipped = await new Response(new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer();
    console.log(`Worker bundle: ${(bytes.length / 1024).toFixed(0)} KiB, ${(gzipped.byteLength / 1024).toFixed(0)} KiB gzipped (Free plan limit: 3 MiB gzipped)`);
    expect(gzipped.byteLength).toBeLessThan(3 * 1024 * 1024);
  });
});
