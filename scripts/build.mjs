// Bundles the CLI (which includes the Node host) into dist/ so `npx packyard` starts fast, and the
// Worker for workerd.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

// Chunk names carry content hashes: old ones would pile up.
rmSync('dist/chunks', { recursive: true, force: true });

await build({
  entryPoints: { cli: 'src/cli/main.ts', 'ingest-worker': 'src/hosts/node/ingest-worker.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Dependencies are bundled too: resolving and loading hundreds of small module files took
  // ~50 ms of every command's start. OpenPGP.js stays a package of its own (LGPL; one file).
  external: ['openpgp'],
  // Modules only some commands need (the HTTP app, the server) become chunks loaded on demand.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  // CommonJS dependencies require Node's built-ins; an ES module has no `require` of its own.
  banner: { js: "import { createRequire as __packyardRequire } from 'node:module'; const require = __packyardRequire(import.meta.url);" },
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
