// Packyard's benchmarks against its peers. Usage: node bench/run.mjs [name...] [--n N] [--runs R]
// (see bench/README.md). Prints a table per benchmark, then one PASS/FAIL line per budget.
import { parseArgs } from 'node:util';
import { CACHE, cleanup } from './lib/proc.mjs';
import { journallessExt4 } from './lib/filesystem.mjs';

const BENCHMARKS = ['ingest', 'add-one', 'retention', 'serve', 'upload-memory', 'worker-cpu', 'rpm', 'github', 's3', 'rollback', 'scale'];

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    n: { type: 'string' },
    runs: { type: 'string' },
    duration: { type: 'string', default: '10' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help) {
  console.log(`usage: node bench/run.mjs [${BENCHMARKS.join('|')}]... [--n N] [--runs R] [--duration SECONDS]`);
  process.exit(0);
}
const unknown = positionals.filter((p) => !BENCHMARKS.includes(p));
if (unknown.length) {
  console.error(`unknown benchmark ${unknown.join(', ')}; choose from ${BENCHMARKS.join(', ')}`);
  process.exit(2);
}

const selected = positionals.length ? positionals : BENCHMARKS;
// --n and --runs when given, else each benchmark's own default (N: 10000 unless it says otherwise).
const options = { n: values.n ? Number(values.n) : undefined, runs: values.runs ? Number(values.runs) : undefined, duration: Number(values.duration) };
const journalless = journallessExt4(CACHE);
if (journalless) {
  console.log(`note: ${CACHE} is on ${journalless}, an ext4 without a journal, where creating files soon after many were deleted`);
  console.log('      is slow in the kernel and favours the tools that create fewer files; BENCH_DIR=<dir on another filesystem> avoids it (bench/README.md)');
}
const summaries = [];
const started = performance.now();
let failed = false;
try {
  for (const name of selected) {
    const bench = await import(`./${name}.mjs`);
    console.log(`\n== ${name}: ${bench.description}`);
    const checks = await bench.run({ ...options, n: options.n ?? bench.defaultN ?? 10000, runs: options.runs ?? bench.defaultRuns });
    for (const c of checks) console.log(c.line);
    summaries.push(...checks);
  }
} catch (err) {
  console.error(`\nbenchmark failed: ${err.stack ?? err}`);
  failed = true;
} finally {
  cleanup();
}

console.log(`\n== summary (${((performance.now() - started) / 60000).toFixed(1)} min)`);
for (const c of summaries) console.log(c.line);
process.exitCode = failed ? 2 : summaries.every((c) => c.pass) ? 0 : 1;
