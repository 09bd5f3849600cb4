// Test .deb files: made with the real dpkg-deb, or real ones downloaded from Debian.
//
// buildDeb() writes a control file and payload into a staging tree and runs
// `dpkg-deb --build --root-owner-group -Z<comp>`. dpkg 1.21 compresses control.tar and
// data.tar alike (checked: -Zxz gives control.tar.xz + data.tar.xz, -Zzstd .zst,
// -Zgzip .gz, -Znone plain .tar), so one option covers Debian (xz), Ubuntu (zstd) and
// the old formats. SOURCE_DATE_EPOCH makes the output byte-for-byte reproducible.
//
// fetchRealDebs() uses the host's apt (sources: Debian bookworm) to `apt-get download`
// a fixed set of real packages into .cache/debs/. See REAL_DEBS for why these.
import { chmod, mkdir, mkdtemp, readdir, rename, rm, stat, writeFile, readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { cacheDir, run, runOk } from './exec.js';

export type DebCompression = 'xz' | 'gzip' | 'zstd' | 'none';

export interface DebSpec {
  name: string;
  /** Full version, epoch included ("1:2.0-1"); the file name drops the epoch as Debian does. */
  version: string;
  /** 'amd64', 'all', ... Default 'all'. */
  arch?: string;
  depends?: string;
  /** First line is the synopsis; further lines become the extended description
   *  (indented by one space; empty lines become " ."). */
  description?: string;
  maintainer?: string;
  /** More control fields, written in order after the standard ones (e.g. Section, Priority, Pre-Depends, X-Custom). */
  fields?: Record<string, string>;
  /** Default 'xz', like Debian. */
  compression?: DebCompression;
  /** Payload: path inside the package (e.g. "usr/share/foo/readme") → contents. */
  files?: Record<string, string | Uint8Array>;
  /** Maintainer scripts (postinst, prerm, ...) as shell text; made executable. */
  scripts?: Partial<Record<'preinst' | 'postinst' | 'prerm' | 'postrm', string>>;
}

export interface DebFile {
  path: string;
  name: string;
  version: string;
  arch: string;
  size: number;
  sha256: string;
}

/** Debian's file name for a package: name_version-without-epoch_arch.deb. */
export function debFileName(name: string, version: string, arch: string): string {
  return `${name}_${version.replace(/^\d+:/, '')}_${arch}.deb`;
}

/** Renders a multi-line description into control-file form. */
export function controlDescription(description: string): string {
  const [synopsis = '', ...rest] = description.replace(/\n+$/, '').split('\n');
  return [synopsis, ...rest.map((l) => (l.trim() === '' ? ' .' : ` ${l}`))].join('\n');
}

/** Builds one .deb into outDir with dpkg-deb and returns where it is and what it is. */
export async function buildDeb(spec: DebSpec, outDir: string): Promise<DebFile> {
  const arch = spec.arch ?? 'all';
  const compression = spec.compression ?? 'xz';
  await mkdir(outDir, { recursive: true });
  const stage = await mkdtemp(path.join(os.tmpdir(), 'packyard-deb-'));
  try {
    const control = [
      `Package: ${spec.name}`,
      `Version: ${spec.version}`,
      `Architecture: ${arch}`,
      `Maintainer: ${spec.maintainer ?? 'Packyard Tests <tests@packyard.invalid>'}`,
      ...(spec.depends ? [`Depends: ${spec.depends}`] : []),
      ...Object.entries(spec.fields ?? {}).map(([k, v]) => `${k}: ${v}`),
      `Description: ${controlDescription(spec.description ?? `test package ${spec.name}`)}`,
    ].join('\n');
    await mkdir(path.join(stage, 'DEBIAN'), { recursive: true });
    await writeFile(path.join(stage, 'DEBIAN/control'), control + '\n');
    for (const [name, body] of Object.entries(spec.scripts ?? {})) {
      await writeFile(path.join(stage, 'DEBIAN', name), body, { mode: 0o755 });
    }
    for (const [rel, body] of Object.entries(spec.files ?? {})) {
      const abs = path.join(stage, rel.replace(/^\/+/, ''));
      await mkdir(path.dirname(abs), { recursive: true });
      await writeFile(abs, body);
    }
    // dpkg-deb refuses a control directory with odd permissions (umask 002 etc.).
    await chmod(path.join(stage, 'DEBIAN'), 0o755);
    const out = path.join(outDir, debFileName(spec.name, spec.version, arch));
    await runOk('dpkg-deb', ['--build', '--root-owner-group', `-Z${compression}`, stage, out], {
      env: { SOURCE_DATE_EPOCH: process.env.SOURCE_DATE_EPOCH ?? '1700000000' },
    });
    return describeDeb(out);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/** Reads name/version/arch with `dpkg-deb -f` and hashes the file. */
export async function describeDeb(file: string): Promise<DebFile> {
  const r = await runOk('dpkg-deb', ['-f', file, 'Package', 'Version', 'Architecture']);
  const field = (k: string) => new RegExp(`^${k}: (.*)$`, 'm').exec(r.stdout)?.[1] ?? '';
  const bytes = await readFile(file);
  return {
    path: file,
    name: field('Package'),
    version: field('Version'),
    arch: field('Architecture'),
    size: (await stat(file)).size,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

/**
 * Real Debian bookworm packages, chosen to be small and to install in the minbase chroot
 * (test/helpers/chroot.ts) from a repository holding only these three, with nothing else
 * pulled in. Versions seen when chosen (bookworm + bookworm-security, 2025):
 *
 * - vim-common 2:9.0.1378-2+deb12u2, Architecture: all (~125 kB). Epoch, and a '+' in
 *   the version, which must be URL-encoded right in pool paths. Depends on nothing.
 * - vim-tiny 2:9.0.1378-2+deb12u2, amd64 (~720 kB). Epoch. Depends on
 *   `vim-common (= 2:9.0.1378-2+deb12u2)`, an exact-version dependency on the package
 *   above; its other Depends (libacl1, libc6, libselinux1, libtinfo6) are in minbase.
 * - xxd 2:9.0.1378-2+deb12u2, amd64 (~85 kB). Epoch; Depends only on libc6. The
 *   smallest stand-alone install; also vim-common Recommends it, so installing vim-tiny
 *   with Recommends on pulls it from our repository and not from nowhere.
 *
 * None of them is in minbase, so `apt-get install` really installs from the repository
 * under test. The exact versions may move with Debian point releases: tests must read
 * them from the returned DebFile, never hard-code them.
 */
export const REAL_DEBS = ['vim-common', 'vim-tiny', 'xxd'] as const;
export type RealDebName = (typeof REAL_DEBS)[number];

/** Downloads (once; cached in dir) the REAL_DEBS packages with the host's apt-get download. */
export async function fetchRealDebs(dir = path.join(cacheDir, 'debs')): Promise<Record<RealDebName, DebFile>> {
  await mkdir(dir, { recursive: true });
  const found = async () => {
    const files = (await readdir(dir)).filter((f) => f.endsWith('.deb'));
    const out: Partial<Record<RealDebName, DebFile>> = {};
    for (const name of REAL_DEBS) {
      const f = files.find((x) => x.startsWith(`${name}_`));
      if (f) out[name] = await describeDeb(path.join(dir, f));
    }
    return out;
  };
  let have = await found();
  if (REAL_DEBS.every((n) => have[n])) return have as Record<RealDebName, DebFile>;
  // Fetch all three together even if only one is missing: vim-tiny depends on the exact
  // version of vim-common, so the set must come from one moment of the archive.
  const missing = REAL_DEBS;

  // apt-get download runs its fetch as _apt, which must be able to write the target.
  // Download beside the cache (same filesystem, so rename works) and move in only whole files.
  const tmp = await mkdtemp(path.join(dir, '.download-'));
  await chmod(tmp, 0o777);
  try {
    let r = await run('apt-get', ['download', ...missing], { cwd: tmp, timeoutMs: 300_000 });
    if (r.code !== 0) {
      // Host lists never fetched (fresh machine: "Unable to locate package") or stale (the
      // mirror dropped the version they name: 404): refresh them once and retry.
      await run('apt-get', ['update'], { timeoutMs: 300_000 });
      r = await run('apt-get', ['download', ...missing], { cwd: tmp, timeoutMs: 300_000 });
    }
    if (r.code !== 0) throw new Error(`apt-get download ${missing.join(' ')} failed:\n${r.stderr}`);
    for (const f of await readdir(dir)) {
      if (REAL_DEBS.some((n) => f.startsWith(`${n}_`))) await rm(path.join(dir, f), { force: true });
    }
    for (const f of await readdir(tmp)) if (f.endsWith('.deb')) await rename(path.join(tmp, f), path.join(dir, f));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  have = await found();
  const still = REAL_DEBS.filter((n) => !have[n]);
  if (still.length) throw new Error(`apt-get download gave no file for ${still.join(', ')}`);
  return have as Record<RealDebName, DebFile>;
}

let raceSet: Promise<Map<string, Uint8Array>> | undefined;

/** Eight small packages (four names, two versions each) by "name version", for the gc race tests. */
export function raceDebs(): Promise<Map<string, Uint8Array>> {
  raceSet ??= (async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'packyard-race-'));
    const out = new Map<string, Uint8Array>();
    for (const name of ['alpha', 'bravo', 'charlie', 'delta']) {
      for (const version of ['1.0', '2.0']) {
        const deb = await buildDeb({ name, version, arch: 'amd64', files: { [`usr/share/${name}/version`]: version } }, dir);
        out.set(`${name} ${version}`, new Uint8Array(await readFile(deb.path)));
      }
    }
    return out;
  })();
  return raceSet;
}
