// A real Debian 12 apt, for tests that count only when apt-get accepts the result.
//
// - ensureChroot() debootstraps a minbase bookworm tree once into .cache/chroot-bookworm
//   (about 25 s and 130 MB here) and reuses it while its marker file exists. The marker is
//   written last, so a build that died half way is thrown away and redone.
// - freshChroot() gives each suite its own writable view, so packages installed by one
//   suite never leak into the next: an overlayfs mount over the cached tree (~5 ms),
//   falling back to `cp -a` (measured on the 2-core test machine: 0.4 s to 4.9 s for the
//   130 MB tree, depending on how busy the disk is; rm -rf another 0.3-0.8 s). Copies are
//   named with the owner's pid, and copies of dead processes (mounts included) are
//   reaped by the next freshChroot(), so a crashed run leaves no mount behind for long.
// - configureApt() makes the copy's apt see ONLY the repository under test: the
//   default Debian sources go, the key goes where `signed-by=` points, and the lists
//   are wiped so that an earlier `apt-get update` cannot satisfy a later one.
// - aptRoot() is the lighter peer for `apt-get update` loops: a throwaway Dir::* tree
//   used by the host's own apt (no chroot, no dpkg database), enough for update,
//   apt-cache and apt-get download (which verifies the pool file's hashes).
//
// Facts found while writing this (bookworm, apt 2.6.1):
// - minbase already has gpgv (apt Depends: gpgv | gpgv2 | gpgv1); apt 2.6 verifies with
//   gpgv through apt-key. sqv is not used by bookworm's apt (only by apt >= 2.9).
// - A `signed-by=` file ending in .gpg must be a binary keyring whose first byte is an
//   OpenPGP public-key packet tag (0x98, 0x99 or 0xC6); armored keys need a .asc name,
//   otherwise apt says "ignored as the file has an unsupported filetype".
// - The chroot shares the host's network namespace: http://127.0.0.1:PORT works, and
//   /proc need not be mounted for apt-get update/install of simple packages.
// - Plain `apt-get update` exits 0 when an index fails to download ("W: Some index files
//   failed to download. They have been ignored"); `--error-on=any` makes that exit 100.
// - auth.conf entries for a plain-http source need the scheme: `machine http://host:port/..`.
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cacheDir, run, runOk, type RunResult } from './exec.js';

const SUITE = 'bookworm';
const MIRROR = process.env.PACKYARD_TEST_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
const CHROOT_DIR = path.join(cacheDir, `chroot-${SUITE}`);
/** Written last by ensureChroot(); its presence means the tree is complete. */
const MARKER = '.packyard-chroot-complete';

/** Environment for commands inside the chroot: nothing of the host's leaks in (CI=true, NODE_*, proxies). */
const CHROOT_ENV = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LC_ALL: 'C.UTF-8',
  DEBIAN_FRONTEND: 'noninteractive',
};

let building: Promise<string> | undefined;

/** Path of the cached pristine chroot, building it on first use. Do not install into it: use freshChroot(). */
export function ensureChroot(): Promise<string> {
  building ??= buildChroot().catch((e: unknown) => {
    building = undefined; // let a later call try again
    throw e;
  });
  return building;
}

async function buildChroot(): Promise<string> {
  if (existsSync(path.join(CHROOT_DIR, MARKER))) return CHROOT_DIR;
  if (!existsSync('/usr/sbin/debootstrap')) {
    throw new Error('debootstrap is not installed: run .ci/run, or apt-get install -y debootstrap');
  }
  await mkdir(cacheDir, { recursive: true });
  // Build beside the final place and rename, so a parallel builder or a crash never
  // leaves a half tree under the final name.
  const tmp = `${CHROOT_DIR}.build-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  let result: RunResult | undefined;
  for (let attempt = 1; attempt <= 2; attempt++) {
    result = await run('debootstrap', ['--variant=minbase', SUITE, tmp, MIRROR], { timeoutMs: 600_000 });
    if (result.code === 0) break;
    await rm(tmp, { recursive: true, force: true }); // a flaky mirror fetch: start over once
  }
  if (result!.code !== 0) throw new Error(`debootstrap failed:\n${result!.stdout.slice(-3000)}\n${result!.stderr.slice(-3000)}`);

  // Smaller tree = faster cp -a per suite; lists are wiped per test anyway.
  await runOk('chroot', [tmp, 'apt-get', 'clean'], { env: CHROOT_ENV, replaceEnv: true });
  await emptyDir(path.join(tmp, 'var/lib/apt/lists'));
  await mkdir(path.join(tmp, 'var/lib/apt/lists/partial'), { recursive: true });
  // No maintainer script may start a daemon inside the test chroot.
  await writeFile(path.join(tmp, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  await writeFile(path.join(tmp, MARKER), `debootstrap --variant=minbase ${SUITE} ${MIRROR}\n${new Date().toISOString()}\n`);

  if (existsSync(CHROOT_DIR)) {
    if (existsSync(path.join(CHROOT_DIR, MARKER))) {
      await rm(tmp, { recursive: true, force: true }); // someone else finished first
      return CHROOT_DIR;
    }
    await rm(CHROOT_DIR, { recursive: true, force: true }); // an incomplete leftover
  }
  await rename(tmp, CHROOT_DIR);
  return CHROOT_DIR;
}

async function emptyDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const e of await readdir(dir)) await rm(path.join(dir, e), { recursive: true, force: true });
}

export interface Chroot {
  root: string;
  /** How the copy was made: an overlayfs mount over the cached tree, or a full `cp -a`. */
  kind: 'overlay' | 'copy';
  /** Unmounts/removes the copy. Safe to call twice. */
  dispose(): Promise<void>;
}

const COPY_PREFIX = 'packyard-chroot-';

/**
 * A private, writable view of the cached chroot for one suite: an overlayfs mount (the
 * cached tree is the read-only lower layer), or a `cp -a` copy where overlay mounts are
 * not allowed. PACKYARD_TEST_CHROOT_COPY=cp forces the copy.
 */
export async function freshChroot(): Promise<Chroot> {
  const pristine = await ensureChroot();
  await reapStaleCopies();
  // The pid in the name lets a later run tell whose copy a leftover was.
  const parent = await mkdtemp(path.join(os.tmpdir(), `${COPY_PREFIX}${process.pid}-`));
  const root = path.join(parent, 'root');
  await mkdir(root);
  if (process.env.PACKYARD_TEST_CHROOT_COPY !== 'cp') {
    await mkdir(path.join(parent, 'upper'));
    await mkdir(path.join(parent, 'work'));
    const opts = `lowerdir=${pristine},upperdir=${parent}/upper,workdir=${parent}/work`;
    const m = await run('mount', ['-t', 'overlay', 'overlay', '-o', opts, root]);
    if (m.code === 0) {
      return { root, kind: 'overlay', dispose: () => removeCopy(parent) };
    }
  }
  await rm(root, { recursive: true, force: true });
  await runOk('cp', ['-a', pristine, root]);
  return { root, kind: 'copy', dispose: () => removeCopy(parent) };
}

async function removeCopy(parent: string): Promise<void> {
  const root = path.join(parent, 'root');
  if (await isMountPoint(root)) await runOk('umount', [root]);
  // Never rm -rf through a still-mounted tree: it would be the cached lower layer's view.
  if (await isMountPoint(root)) throw new Error(`${root} is still mounted; not removing it`);
  await rm(parent, { recursive: true, force: true });
}

async function mountPoints(): Promise<string[]> {
  const text = await readFile('/proc/self/mounts', 'utf8').catch(() => '');
  // Fields are space-separated with spaces in paths escaped as \040.
  return text.split('\n').map((l) => (l.split(' ')[1] ?? '').replace(/\\040/g, ' ')).filter(Boolean);
}

async function isMountPoint(dir: string): Promise<boolean> {
  return (await mountPoints()).includes(dir);
}

/** Unmounts and deletes copies left by test processes that died before dispose(). */
async function reapStaleCopies(): Promise<void> {
  const tmp = os.tmpdir();
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (const name of await readdir(tmp).catch(() => [] as string[])) {
    const pid = new RegExp(`^${COPY_PREFIX}(\\d+)-`).exec(name)?.[1];
    if (!pid || Number(pid) === process.pid || alive(Number(pid))) continue;
    await removeCopy(path.join(tmp, name)).catch(() => {});
  }
}

/** Runs a command inside the chroot with a clean environment. */
export function chrootRun(root: string, args: readonly string[], timeoutMs = 300_000): Promise<RunResult> {
  return run('chroot', [root, ...args], { env: CHROOT_ENV, replaceEnv: true, timeoutMs });
}

/** What apt in a chroot (or an aptRoot) should be pointed at. */
export interface AptSource {
  /** One sources.list line, e.g. `deb [signed-by=/etc/apt/keyrings/r.gpg] http://127.0.0.1:8080/r stable main`. */
  sourcesLine: string;
  /** The repository's binary OpenPGP public key (what GET /<repo>/public.gpg returns). */
  keyringBytes?: Uint8Array;
  /** Where to put the key, inside the apt root. Default: the `signed-by=` path of sourcesLine. */
  keyringPath?: string;
  /**
   * Contents of /etc/apt/auth.conf.d/packyard.conf, e.g.
   * `machine http://127.0.0.1:8080/r login u password p`. Over plain http the machine
   * MUST carry the `http://` prefix: apt 2.6 otherwise ignores the entry with "Credentials
   * for ... match, but the protocol is not encrypted. Annotate with http:// to use."
   */
  authConf?: string;
}

/** The `signed-by=` path of a one-line-style sources entry, if it has one. */
export function signedByPath(sourcesLine: string): string | undefined {
  return /\[[^\]]*\bsigned-by=([^\s\]]+)/.exec(sourcesLine)?.[1];
}

/**
 * Points the apt under `root` (a chroot, or an aptRoot's dir whose etc/ and var/ mirror a
 * real system's layout) at exactly one source, and forgets everything fetched before.
 */
export async function configureApt(root: string, src: AptSource): Promise<void> {
  const etcApt = path.join(root, 'etc/apt');
  await mkdir(etcApt, { recursive: true });
  await emptyDir(path.join(etcApt, 'sources.list.d'));
  await writeFile(path.join(etcApt, 'sources.list'), src.sourcesLine.trim() + '\n');

  const keyPath = src.keyringPath ?? signedByPath(src.sourcesLine);
  if (src.keyringBytes) {
    if (!keyPath) throw new Error('configureApt: keyringBytes given but no keyringPath and no signed-by= in the sources line');
    const abs = path.join(root, keyPath);
    await mkdir(path.dirname(abs), { recursive: true });
    await writeFile(abs, src.keyringBytes, { mode: 0o644 }); // apt's _apt user must read it
    await chmod(abs, 0o644);
  }

  const authDir = path.join(etcApt, 'auth.conf.d');
  await emptyDir(authDir);
  if (src.authConf !== undefined) {
    // 0600 root-owned, as apt's manual asks; apt reads it before dropping to _apt.
    await writeFile(path.join(authDir, 'packyard.conf'), src.authConf.trim() + '\n', { mode: 0o600 });
  }

  // Forget earlier runs: lists, the binary caches built from them, downloaded .debs.
  await emptyDir(path.join(root, 'var/lib/apt/lists'));
  await mkdir(path.join(root, 'var/lib/apt/lists/partial'), { recursive: true });
  await rm(path.join(root, 'var/cache/apt/pkgcache.bin'), { force: true });
  await rm(path.join(root, 'var/cache/apt/srcpkgcache.bin'), { force: true });
  const archives = path.join(root, 'var/cache/apt/archives');
  if (existsSync(archives)) {
    for (const e of await readdir(archives)) if (e.endsWith('.deb')) await rm(path.join(archives, e), { force: true });
  }
}

/**
 * `apt-get update` in the chroot. `--error-on=any` (apt >= 2.1.16) turns the warnings apt
 * otherwise shrugs off ("Some index files failed to download", skipped indexes) into a
 * non-zero exit, which is what a test of a repository wants.
 */
export function aptUpdate(root: string, extraArgs: readonly string[] = []): Promise<RunResult> {
  return chrootRun(root, ['apt-get', 'update', '--error-on=any', ...extraArgs]);
}

/** `apt-get install -y PKG...`: signature checking stays on; -y refuses unauthenticated packages. */
export function aptInstall(root: string, pkgs: readonly string[], extraArgs: readonly string[] = []): Promise<RunResult> {
  return chrootRun(root, ['apt-get', 'install', '-y', ...extraArgs, ...pkgs]);
}

/** `dpkg -s PKG`: code 0 and "Status: install ok installed" when installed. */
export function dpkgStatus(root: string, pkg: string): Promise<RunResult> {
  return chrootRun(root, ['dpkg', '-s', pkg]);
}

/** True when `dpkg -s` reports the package installed. */
export async function isInstalled(root: string, pkg: string): Promise<boolean> {
  const r = await dpkgStatus(root, pkg);
  return r.code === 0 && /^Status: install ok installed$/m.test(r.stdout);
}

/** configureApt + apt-get update + apt-get install, stopping at the first failing step. */
export async function aptInChroot(
  root: string,
  src: AptSource,
  pkgs: readonly string[],
): Promise<{ update: RunResult; install?: RunResult }> {
  await configureApt(root, src);
  const update = await aptUpdate(root);
  if (update.code !== 0 || pkgs.length === 0) return { update };
  return { update, install: await aptInstall(root, pkgs) };
}

// ---------------------------------------------------------------------------------------
// aptRoot: the host's apt with every Dir:: redirected into a temp tree.

export interface AptRoot {
  dir: string;
  configure(src: AptSource): Promise<void>;
  /** `apt-get update --error-on=any` against only the configured source. */
  update(extraArgs?: readonly string[]): Promise<RunResult>;
  /** Any apt-get subcommand, e.g. ['download', 'hello'] (files land in `cwd`, default dir/download). */
  aptGet(args: readonly string[], cwd?: string): Promise<RunResult>;
  /** Any apt-cache subcommand, e.g. ['policy', 'hello'] or ['show', 'hello']. */
  aptCache(args: readonly string[]): Promise<RunResult>;
  dispose(): Promise<void>;
}

/**
 * A throwaway apt state tree for the host's apt: fast (no chroot copy) and isolated from
 * the host's sources, keys and apt.conf.d through APT_CONFIG, which apt reads before
 * Dir::Etc::parts. No dpkg database, so no installs; updates, policy and downloads work.
 */
export async function aptRoot(): Promise<AptRoot> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'packyard-aptroot-'));
  await chmod(dir, 0o755); // _apt must reach lists/partial
  for (const d of ['etc/apt/apt.conf.d', 'etc/apt/preferences.d', 'etc/apt/trusted.gpg.d', 'etc/apt/sources.list.d',
    'var/lib/apt/lists/partial', 'var/cache/apt/archives/partial', 'var/lib/dpkg', 'var/log/apt', 'download']) {
    await mkdir(path.join(dir, d), { recursive: true });
  }
  await chmod(path.join(dir, 'download'), 0o777); // apt-get download writes as _apt
  await writeFile(path.join(dir, 'var/lib/dpkg/status'), '');
  const conf = path.join(dir, 'etc/apt/apt.conf');
  await writeFile(
    conf,
    [
      `Dir::Etc "${dir}/etc/apt";`,
      `Dir::State "${dir}/var/lib/apt";`,
      `Dir::State::status "${dir}/var/lib/dpkg/status";`,
      `Dir::Cache "${dir}/var/cache/apt";`,
      `Dir::Log "${dir}/var/log/apt";`,
      '',
    ].join('\n'),
  );
  const env = { APT_CONFIG: conf, LC_ALL: 'C.UTF-8', DEBIAN_FRONTEND: 'noninteractive' };
  const aptGet = (args: readonly string[], cwd = path.join(dir, 'download')) =>
    run('apt-get', args, { env, cwd, timeoutMs: 300_000 });
  return {
    dir,
    configure: (src) => {
      // The line's signed-by= names a path on "the system"; here the system is dir.
      const keyPath = src.keyringPath ?? signedByPath(src.sourcesLine);
      const sourcesLine = keyPath ? src.sourcesLine.replace(`signed-by=${keyPath}`, `signed-by=${path.join(dir, keyPath)}`) : src.sourcesLine;
      return configureApt(dir, { ...src, sourcesLine, keyringPath: keyPath });
    },
    update: (extraArgs = []) => aptGet(['update', '--error-on=any', ...extraArgs]),
    aptGet,
    aptCache: (args) => run('apt-cache', args, { env, timeoutMs: 120_000 }),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}
