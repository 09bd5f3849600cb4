// Generated inputs, cached in .cache/bench/: N small .debs with varied, realistic control
// fields, and big .debs of random data.
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { smallDeb, writeBigDeb } from './deb.mjs';
import { CACHE } from './proc.mjs';

/** Words generated package names and texts are made of. */
export const WORDS = ['core', 'net', 'xml', 'json', 'crypt', 'image', 'audio', 'video', 'text', 'util', 'data', 'http', 'sql', 'gtk', 'qt',
  'yaml', 'font', 'theme', 'proto', 'zip', 'event', 'log', 'math', 'geo', 'usb', 'pci', 'dbus', 'mesa', 'ssl', 'curl'];
const SECTIONS = ['libs', 'utils', 'net', 'devel', 'admin', 'web', 'text', 'graphics', 'sound', 'misc'];

/** Control fields of the i-th generated package (deterministic). */
export function packageFields(i, prefix = '') {
  const w1 = WORDS[i % WORDS.length];
  const w2 = WORDS[Math.floor(i / WORDS.length) % WORDS.length];
  const id = i.toString(36);
  const lib = i % 10 < 3; // 30% lib* packages
  const name = `${prefix}${lib ? 'lib' : ''}${w1}-${w2}${lib ? `${i % 9}` : ''}-${id}`;
  const version = `${i % 17 === 0 ? '1:' : ''}${1 + (i % 5)}.${i % 13}.${i % 7}-${1 + (i % 3)}${i % 11 === 0 ? '+deb12u1' : ''}${i % 23 === 0 ? '~rc1' : ''}`;
  const architecture = lib || i % 10 < 7 ? 'amd64' : 'all'; // 70% amd64, 30% all
  const depends = lib ? 'libc6 (>= 2.34)' : `libc6 (>= 2.34), ${WORDS[(i * 7) % WORDS.length]}-common (>= 1.0) | ${WORDS[(i * 3) % WORDS.length]}-base`;
  return {
    package: name,
    source: lib ? `${w1}-${w2}-${id}` : name,
    version,
    architecture,
    depends,
    section: lib ? 'libs' : SECTIONS[i % SECTIONS.length],
    priority: 'optional',
    installedSize: 8 + (i % 4000),
    homepage: `https://example.invalid/${w1}/${w2}`,
    description: `${w1} ${w2} ${lib ? 'shared library' : 'tools'} (benchmark package ${i})\nThis package was generated for Packyard's benchmarks. It provides\nthe ${w1} support for ${w2} applications.\n\nIt contains only a README.`,
  };
}

export function debFileName(f) {
  return `${f.package}_${f.version.replace(/^\d+:/, '')}_${f.architecture}.deb`;
}

/** Writes one generated package into dir and returns its path. */
export async function writeSmallDeb(dir, fields) {
  const path = join(dir, debFileName(fields));
  await writeFile(path, smallDeb(fields));
  return path;
}

/** The directory holding N generated packages (made once, then reused). */
export async function smallDebs(n) {
  const dir = join(CACHE, `debs-${n}`);
  if (!existsSync(join(dir, '.complete'))) {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const started = performance.now();
    for (let i = 0; i < n; i++) await writeSmallDeb(dir, packageFields(i));
    await writeFile(join(dir, '.complete'), '');
    console.error(`generated ${n} .debs in ${((performance.now() - started) / 1000).toFixed(1)} s (${dir})`);
  }
  const files = (await readdir(dir)).filter((f) => f.endsWith('.deb')).sort().map((f) => join(dir, f));
  return { dir, files };
}

/** A big .deb of `mib` MiB of random data (made once, then reused). */
export async function bigDeb(mib) {
  const fields = { package: `big-payload-${mib}m`, version: '1.0-1', architecture: 'amd64', section: 'misc', description: `${mib} MiB of random data` };
  const path = join(CACHE, debFileName(fields));
  if (!existsSync(`${path}.complete`)) {
    await mkdir(CACHE, { recursive: true });
    await writeBigDeb(path, fields, mib * 1024 * 1024);
    await writeFile(`${path}.complete`, '');
  }
  return path;
}
