// Small process helpers shared by the real-peer test helpers.
// Every real peer (apt-get, dpkg-deb, gpg, debootstrap) is driven as a child
// process; tests want its exit code and both streams, not an exception, so that a
// failing peer's own words end up in the assertion message.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Absolute path of the repository root (test/helpers/ is two levels down). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where helpers keep things that outlive one test run (gitignored). */
export const cacheDir = path.join(repoRoot, '.cache');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  /** The whole environment of the child (not merged) when `replaceEnv` is set; merged over process.env otherwise. */
  env?: Record<string, string | undefined>;
  replaceEnv?: boolean;
  /** Written to the child's stdin, which is then closed. Without it stdin is /dev/null: CI has no stdin. */
  input?: string | Uint8Array;
  /** Kill the child (SIGKILL) after this many ms; the result then has code 124 like timeout(1). */
  timeoutMs?: number;
}

/** Runs a command to completion. Never throws for a non-zero exit; only for a command that cannot start. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const env = opts.replaceEnv ? opts.env : { ...process.env, ...opts.env };
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: env as NodeJS.ProcessEnv,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, opts.timeoutMs);
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({
        code: timedOut ? 124 : (code ?? (signal ? 128 : 1)),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** Like run(), but throws with the command's output when it exits non-zero. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(describeFailure(cmd, args, r));
  return r;
}

export function describeFailure(cmd: string, args: readonly string[], r: RunResult): string {
  const tail = (s: string) => (s.length > 4000 ? '…' + s.slice(-4000) : s);
  return `${cmd} ${args.join(' ')} exited ${r.code}\n--- stdout\n${tail(r.stdout)}\n--- stderr\n${tail(r.stderr)}`;
}
