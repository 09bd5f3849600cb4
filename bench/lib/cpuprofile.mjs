// Summarises V8 .cpuprofile files (node --cpu-prof): self and total time per function, and
// per package/file group. Usage as a script:
//   node bench/lib/cpuprofile.mjs FILE.cpuprofile... [--top 30] [--since-ms 0] [--until-ms T]
// Several files (the main thread and worker threads of one run) are summed.
// Total time counts a function once per sample even when it recurses.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

/** { self: Map(name → ms), total: Map(name → ms), groups: Map(group → self ms), ms, idle } */
export function summarise(paths, { sinceMs = 0, untilMs = Infinity } = {}) {
  const self = new Map();
  const total = new Map();
  const groups = new Map();
  let all = 0;
  for (const path of paths) {
    const prof = JSON.parse(readFileSync(path, 'utf8'));
    const byId = new Map(prof.nodes.map((n) => [n.id, n]));
    const parent = new Map();
    for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const name = (n) => {
      const f = n.callFrame;
      const file = f.url ? f.url.replace(/^file:\/\//, '').replace(/.*\/(node_modules|src|dist)\//, '$1/') : '';
      return `${f.functionName || '(anonymous)'} ${file}${file ? `:${f.lineNumber + 1}` : ''}`;
    };
    const group = (n) => {
      const url = n.callFrame.url || '';
      if (!url) return n.callFrame.functionName.startsWith('(') ? n.callFrame.functionName : '(native)';
      if (url.includes('node_modules/openpgp') || url.includes('openpgp')) return 'openpgp';
      if (url.startsWith('node:')) return url.split('/')[0] + (url.includes('zlib') ? ' zlib' : '');
      const m = /\/src\/(.*?)\.ts/.exec(url) || /\/(dist\/[^/]+)/.exec(url);
      return m ? m[1] : url.replace(/.*\//, '');
    };
    // Per sample: time delta (µs) attributed to the sampled leaf node.
    const start = prof.startTime;
    let t = start;
    for (let i = 0; i < prof.samples.length; i++) {
      const dt = (prof.timeDeltas[i] ?? 0) / 1000;
      t += prof.timeDeltas[i] ?? 0;
      if ((t - start) / 1000 < sinceMs || (t - start) / 1000 > untilMs) continue;
      const leaf = byId.get(prof.samples[i]);
      all += dt;
      const leafName = name(leaf);
      self.set(leafName, (self.get(leafName) ?? 0) + dt);
      groups.set(group(leaf), (groups.get(group(leaf)) ?? 0) + dt);
      const seen = new Set();
      for (let id = leaf.id; id !== undefined; id = parent.get(id)) {
        const nm = name(byId.get(id));
        if (seen.has(nm)) continue;
        seen.add(nm);
        total.set(nm, (total.get(nm) ?? 0) + dt);
      }
    }
  }
  const idle = self.get('(idle) ') ?? 0;
  return { self, total, groups, ms: all, idle };
}

export function report({ self, total, groups, ms, idle }, top = 30) {
  const sorted = (m) => [...m].sort((a, b) => b[1] - a[1]);
  const lines = [`profiled ${ms.toFixed(0)} ms, of which idle ${idle.toFixed(0)} ms, busy ${(ms - idle).toFixed(0)} ms`];
  lines.push('', 'self time by group (file / package):');
  for (const [g, v] of sorted(groups).slice(0, top)) lines.push(`  ${v.toFixed(1).padStart(9)} ms  ${g}`);
  lines.push('', 'self time by function:');
  for (const [f, v] of sorted(self).slice(0, top)) lines.push(`  ${v.toFixed(1).padStart(9)} ms  ${f}`);
  lines.push('', 'total time by function (inclusive):');
  for (const [f, v] of sorted(total).filter(([f]) => !/^\((root|program|idle|garbage collector)\)/.test(f)).slice(0, top)) lines.push(`  ${v.toFixed(1).padStart(9)} ms  ${f}`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '30' }, 'since-ms': { type: 'string', default: '0' }, 'until-ms': { type: 'string', default: 'Infinity' } } });
  console.log(report(summarise(positionals, { sinceMs: Number(values['since-ms']), untilMs: Number(values['until-ms']) }), Number(values.top)));
}
