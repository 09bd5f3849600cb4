// Generated RPMs, real ones made by rpmbuild, cached in .cache/bench/: one spec file holds a
// few hundred to a thousand `%package` subpackages (noarch, one small file each), so that a
// single `rpmbuild -bb` writes them all. Specs are built two at a time (2 cores).
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CACHE, run, tempDir } from './proc.mjs';
import { WORDS } from './inputs.mjs';

const GROUPS = ['System Environment/Libraries', 'Applications/System', 'Development/Tools', 'Applications/Internet', 'Applications/Text'];

/** Subpackages per spec file: rpmbuild's time per subpackage grows with the spec's size (2000 in one spec: 25 s, in four: 17 s). */
const PER_SPEC = 500;

/** The i-th generated package's name, version and dependencies (deterministic). */
export function rpmFields(i, n, prefix = '') {
  const w1 = WORDS[i % WORDS.length];
  const w2 = WORDS[Math.floor(i / WORDS.length) % WORDS.length];
  const lib = i % 10 < 3; // 30% lib* packages
  const name = rpmName(i, prefix);
  // Some Requires on other generated packages (versioned or not), as real repositories have.
  const other = (k) => rpmName((i * 7 + k * 13 + 1) % n, prefix);
  const requires = i % 4 === 3 || n < 2 ? [] : [`${other(0)} >= 1.0`, ...(i % 3 ? [other(1)] : [])].filter((r) => !r.startsWith(`${name} `) && r !== name);
  return {
    name,
    epoch: i % 17 === 0 ? 1 : undefined,
    version: `${1 + (i % 5)}.${i % 13}.${i % 7}${i % 23 === 0 ? '~rc1' : ''}`,
    release: `${1 + (i % 3)}.el9`,
    summary: `${w1} ${w2} ${lib ? 'shared library' : 'tools'} (benchmark package ${i})`,
    description: `This package was generated for Packyard's benchmarks. It provides\nthe ${w1} support for ${w2} applications.\n\nIt contains only a README.`,
    group: GROUPS[i % GROUPS.length],
    url: `https://example.invalid/${w1}/${w2}`,
    requires,
    provides: lib ? [`${w1}-${w2}-api = ${1 + (i % 5)}`] : [],
  };
}

function rpmName(i, prefix) {
  const w1 = WORDS[i % WORDS.length];
  const w2 = WORDS[Math.floor(i / WORDS.length) % WORDS.length];
  return `${prefix}${i % 10 < 3 ? 'lib' : ''}${w1}-${w2}-${i.toString(36)}`;
}

const CHANGELOG = `%changelog
* Tue Oct 01 2024 Bench Maintainers <bench@example.invalid> - 1.0-2
- Rebuilt for the benchmark
- Fix the README's wording

* Mon Jan 15 2024 Bench Maintainers <bench@example.invalid> - 1.0-1
- Initial package
`;

/** One spec whose subpackages are `fields` (the main package has no %files, so it is not built). */
function specText(chunk, fields) {
  const out = [
    `Name: packyard-bench-${chunk}`,
    'Version: 1.0',
    'Release: 1',
    'Summary: Packyard benchmark packages',
    'License: MIT',
    'BuildArch: noarch',
    'Packager: Bench Maintainers <bench@example.invalid>',
    'Vendor: Packyard bench',
    '',
    '%description',
    'Generated packages for the benchmarks.',
    '',
  ];
  for (const f of fields) {
    out.push(`%package -n ${f.name}`);
    if (f.epoch) out.push(`Epoch: ${f.epoch}`);
    out.push(`Version: ${f.version}`, `Release: ${f.release}`, `Summary: ${f.summary}`, `Group: ${f.group}`, `URL: ${f.url}`);
    for (const r of f.requires) out.push(`Requires: ${r}`);
    for (const p of f.provides) out.push(`Provides: ${p}`);
    out.push('', `%description -n ${f.name}`, f.description, '');
  }
  out.push('%install');
  // Few processes: mkdir for many directories at once, the files with the shell's printf.
  for (let i = 0; i < fields.length; i += 200) out.push(`mkdir -p ${fields.slice(i, i + 200).map((f) => `%{buildroot}/usr/share/${f.name}`).join(' ')}`);
  for (const f of fields) out.push(`printf '%%s\\n' '${f.name} ${f.version}' '${f.summary}' > %{buildroot}/usr/share/${f.name}/README`);
  out.push('');
  for (const f of fields) out.push(`%files -n ${f.name}`, `%dir /usr/share/${f.name}`, `/usr/share/${f.name}/README`, '');
  out.push(CHANGELOG);
  return out.join('\n');
}

/**
 * Builds the packages `fields` into `outDir` (flat), with specs of PER_SPEC subpackages built
 * two at a time. HOME is a temporary directory, so no ~/.rpmmacros applies.
 */
async function buildRpms(outDir, fields, label) {
  const work = tempDir(`rpmbuild-${label}`);
  const specs = [];
  for (let i = 0; i < fields.length; i += PER_SPEC) specs.push(fields.slice(i, i + PER_SPEC));
  const build = async (chunk) => {
    const top = join(work, `top-${chunk}`);
    await mkdir(top, { recursive: true });
    const spec = join(top, 'bench.spec');
    await writeFile(spec, specText(`${label}-${chunk}`, specs[chunk]));
    // --nodeps: the Requires name other generated packages; no install-time checks at build.
    // No brp scripts (there is nothing to strip or compress), output straight into outDir.
    await run('rpmbuild', ['-bb', '--nodeps', '--quiet',
      '--define', `_topdir ${top}`, '--define', `_rpmdir ${outDir}`, '--define', '_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm',
      '--define', '__os_install_post %{nil}', '--define', '_build_id_links none', spec], { env: { HOME: work } });
  };
  let next = 0;
  const worker = async () => {
    while (next < specs.length) await build(next++);
  };
  await Promise.all([worker(), worker()]);
  await rm(work, { recursive: true, force: true });
}

async function cachedRpms(name, count, fieldsOf) {
  const dir = join(CACHE, name);
  if (!existsSync(join(dir, '.complete'))) {
    await rm(dir, { recursive: true, force: true });
    const building = `${dir}.building`;
    await rm(building, { recursive: true, force: true });
    await mkdir(building, { recursive: true });
    const started = performance.now();
    await buildRpms(building, Array.from({ length: count }, (_, i) => fieldsOf(i)), name);
    const made = (await readdir(building)).filter((f) => f.endsWith('.rpm')).length;
    if (made !== count) throw new Error(`rpmbuild made ${made} RPMs in ${building}, expected ${count}`);
    await writeFile(join(building, '.complete'), '');
    await rename(building, dir);
    console.error(`built ${count} RPMs with rpmbuild in ${((performance.now() - started) / 1000).toFixed(1)} s (${dir})`);
  }
  const files = (await readdir(dir)).filter((f) => f.endsWith('.rpm')).sort().map((f) => join(dir, f));
  return { dir, files };
}

/** The directory holding N generated RPMs (made once, then reused). */
export function generatedRpms(n) {
  return cachedRpms(`rpms-${n}`, n, (i) => rpmFields(i, n));
}

/** `count` more RPMs with names of their own (`addone-…`), for adding one at a time. */
export function extraRpms(count) {
  return cachedRpms(`rpms-addone-${count}`, count, (i) => ({ ...rpmFields(1_000_000 + i, 1_000_000, 'addone-'), requires: [`${rpmName(i % 10, '')} >= 1.0`] }));
}
