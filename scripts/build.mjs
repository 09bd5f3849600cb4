// Bundles the CLI (which includes the Node host) into dist/ so `npx packyard` starts fast.
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
