// Bundles the CLI (which includes the Node host) into dist/ so `npx packyard` starts fast, and the
// Worker for workerd.
import { build } from 'esbuild';

await build({
  entryPoints: { cli: 'src/cli/main.ts', 'ingest-worker': 'src/hosts/node/ingest-worker.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});

// The Worker as one module, for workerd on-prem (deploy/workerd); `wrangler` bundles its own.
await build({
  entryPoints: { worker: 'src/hosts/worker/index.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'neutral',
  conditions: ['workerd', 'worker', 'browser'],
  mainFields: ['browser', 'module', 'main'],
  format: 'esm',
  target: 'es2022',
  external: ['cloudflare:*'],
  logLevel: 'warning',
});
