// When, in a .cpuprofile, functions first and last ran (ms from the profile's start): the
// span of a phase in a run (e.g. when a CLI's publish began). Usage:
//   node bench/lib/cpuprofile-span.mjs FILE.cpuprofile NAME_SUBSTRING...
import { readFileSync } from 'node:fs';
const [file, ...names] = process.argv.slice(2);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
let t = 0;
const spans = Object.fromEntries(names.map((n) => [n, { first: null, last: null, busy: 0 }]));
for (let i = 0; i < prof.samples.length; i++) {
  t += prof.timeDeltas[i] / 1000;
  const stack = [];
  for (let id = prof.samples[i]; id !== undefined; id = parent.get(id)) stack.push(byId.get(id).callFrame.functionName);
  for (const n of names) {
    if (!stack.some((f) => f.includes(n))) continue;
    spans[n].first ??= t;
    spans[n].last = t;
    spans[n].busy += prof.timeDeltas[i] / 1000;
  }
}
console.log(`profile length ${t.toFixed(0)} ms`);
for (const [n, s] of Object.entries(spans)) console.log(`${n}: first ${s.first?.toFixed(0)} ms, last ${s.last?.toFixed(0)} ms, on CPU ${s.busy.toFixed(0)} ms`);
