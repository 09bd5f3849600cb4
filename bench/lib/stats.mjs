// Medians, tables, PASS/FAIL summaries and the results JSON.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE } from './proc.mjs';

/** `list` started at its r-th element: run r's order, so that no contender always runs first (or last) on a noisy machine. */
export function rotated(list, r) {
  return list.map((_, i) => list[(i + r) % list.length]);
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export const fmt = {
  s: (ms) => `${(ms / 1000).toFixed(2)} s`,
  ms: (ms) => `${ms.toFixed(ms < 10 ? 2 : 0)} ms`,
  rps: (r) => `${Math.round(r).toLocaleString('en-US')} req/s`,
  mbps: (bytesPerSec) => `${(bytesPerSec / 1e6).toFixed(0)} MB/s`,
  mb: (bytes) => `${(bytes / 1e6).toFixed(1)} MB`,
  x: (ratio) => `${ratio.toFixed(2)}×`,
};

/** Prints rows (arrays of cells) as an aligned table under a title. */
export function table(title, header, rows) {
  const all = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i]?.length ?? 0)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(`\n${title}`);
  console.log(line(all[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of all.slice(1)) console.log(line(r));
}

/**
 * A budget check: `ratio` of Packyard to a peer, compared with `limit` (`max` means the ratio
 * must be at most the limit, e.g. time; `min` at least, e.g. throughput).
 */
export function check(name, what, ratio, limit, kind, detail = '') {
  const pass = kind === 'max' ? ratio <= limit : ratio >= limit;
  return { name, what, ratio, limit, kind, pass, line: `${pass ? 'PASS' : 'FAIL'}  ${name}: ${what} ${fmt.x(ratio)} (budget ${kind === 'max' ? '≤' : '≥'} ${limit}×)${detail ? `  ${detail}` : ''}` };
}

export function writeResults(name, results) {
  mkdirSync(CACHE, { recursive: true });
  const file = join(CACHE, `results-${name}.json`);
  writeFileSync(file, JSON.stringify({ benchmark: name, date: new Date().toISOString(), ...results }, null, 2) + '\n');
  return file;
}
