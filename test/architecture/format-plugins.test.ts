// DESIGN §6: formats are plug-ins. Outside src/formats/ only the registry (src/formats/index.ts)
// may be imported, no code decides by a format's type name, and the core depends on no format,
// source, host or HTTP code: a new format is one folder plus one line in the registry. Sources
// likewise are reached through src/sources/index.ts alone.
import { describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { repoRoot } from '../helpers/exec.js';
import { formats } from '../../src/formats/index.js';

interface Violation {
  file: string;
  line: number;
  rule: string;
  text: string;
}

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(full)));
    else if (/\.(ts|mts|mjs)$/.test(entry.name)) out.push(full);
  }
  return out;
}

const IMPORT = /(?:from\s+|import\s*\(\s*|import\s+)'([^']+)'/g;

/** The rules, checked over the `src/` folder of `root`. */
export async function violations(root: string, types: readonly string[]): Promise<Violation[]> {
  const src = join(root, 'src');
  const out: Violation[] = [];
  const names = types.join('|');
  const typeTest = new RegExp(`(===|!==)\\s*['"\`](${names})['"\`]|['"\`](${names})['"\`]\\s*(===|!==)|case\\s+['"\`](${names})['"\`]`);
  for (const file of await sources(src)) {
    const rel = relative(src, file).split('\\').join('/');
    const inFormats = rel.startsWith('formats/');
    const lines = (await readFile(file, 'utf8')).split('\n');
    lines.forEach((text, i) => {
      const at = { file: `src/${rel}`, line: i + 1, text: text.trim() };
      for (const [, spec] of text.matchAll(IMPORT)) {
        if (!spec!.startsWith('.')) continue;
        const target = relative(src, resolve(dirname(file), spec!)).split('\\').join('/');
        if (!inFormats && /^formats\/[^/]+\//.test(target)) out.push({ ...at, rule: 'imports a format folder (only src/formats/index.ts may be imported)' });
        if (rel.startsWith('core/') && /^(formats|sources|http|hosts|cli)(\/|$)/.test(target)) out.push({ ...at, rule: 'the core imports a format, source, HTTP, host or CLI module' });
        // Sources are the second plug-in axis (DESIGN §6): reached through their registry, below HTTP.
        if (!rel.startsWith('sources/') && /^sources\/[^/]+\//.test(target)) out.push({ ...at, rule: 'imports a source folder (only src/sources/index.ts may be imported)' });
        if (rel.startsWith('sources/') && /^(http|hosts|cli)(\/|$)/.test(target)) out.push({ ...at, rule: 'a source imports an HTTP, host or CLI module' });
        const own = rel.match(/^formats\/([^/]+)\//)?.[1];
        const other = target.match(/^formats\/([^/]+)\//)?.[1];
        if (own && other && own !== other) out.push({ ...at, rule: `format ${own} imports format ${other}` });
      }
      if (!inFormats && typeTest.test(text)) out.push({ ...at, rule: 'decides by a format type name outside src/formats/' });
    });
  }
  return out;
}

describe('formats are plug-ins', () => {
  it('has no module outside src/formats/ that imports a format folder or tests a type name, and a core that imports no format', async () => {
    expect(await violations(repoRoot, formats.types)).toEqual([]);
  });

  it('catches each kind of violation (the check can fail)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'packyard-arch-'));
    const put = async (path: string, text: string) => {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), text);
    };
    await put('src/formats/index.ts', "import { debFormat } from './deb/format.js';\n");
    await put('src/formats/deb/format.ts', "import { x } from '../rpm/version.js';\nexport const t = 'deb';\n");
    await put('src/http/files.ts', "import { rpmFormat } from '../formats/rpm/format.js';\nimport { formats } from '../formats/index.js';\n");
    await put('src/core/service.ts', "import { formats } from '../formats/index.js';\nif (snapshot.type === 'rpm') go();\n");
    await put('src/cli/lines.ts', "switch (t) { case 'deb': break; }\nconst ok = type === 'debian-like';\n");
    await put('src/http/sync.ts', "import { syncGitHub } from '../sources/github/sync.js';\nimport { Sources } from '../sources/index.js';\n");
    await put('src/sources/github/sync.ts', "import { createApp } from '../../http/app.js';\n");
    await put('src/core/publish.ts', "import { Sources } from '../sources/index.js';\n");
    const found = (await violations(root, ['deb', 'rpm'])).map((v) => `${v.file}:${v.line} ${v.rule}`);
    expect(found.sort()).toEqual(
      [
        'src/cli/lines.ts:1 decides by a format type name outside src/formats/',
        'src/core/service.ts:1 the core imports a format, source, HTTP, host or CLI module',
        'src/core/publish.ts:1 the core imports a format, source, HTTP, host or CLI module',
        'src/http/sync.ts:1 imports a source folder (only src/sources/index.ts may be imported)',
        'src/sources/github/sync.ts:1 a source imports an HTTP, host or CLI module',
        'src/core/service.ts:2 decides by a format type name outside src/formats/',
        'src/formats/deb/format.ts:1 format deb imports format rpm',
        'src/http/files.ts:1 imports a format folder (only src/formats/index.ts may be imported)',
      ].sort(),
    );
  });
});
