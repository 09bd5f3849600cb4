// The README's first command, followed as a newcomer would: `packyard serve` on a new data
// directory prints an admin token and the lines to paste on a client; pasted into apt (with the
// read token they carry, since repositories are private), apt updates from the served repository.
// Secrets are printed on a terminal only: under systemd (no terminal) they would stay in the
// journal, so there the log says how to make tokens instead.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aptRoot } from '../helpers/chroot.js';
import { buildDeb } from '../helpers/debs.js';
import { repoRoot } from '../helpers/exec.js';
import { run } from '../helpers/exec.js';
import { api, freePort } from '../helpers/server.js';

const started: ChildProcess[] = [];
const dirs: string[] = [];

afterAll(async () => {
  // Each was started in its own process group: `script` and the server under it.
  for (const proc of started) if (proc.exitCode === null) process.kill(-proc.pid!, 'SIGTERM');
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** `packyard serve` on a new data directory, its output and stderr on a terminal (`script` gives it one) or on pipes. */
async function firstStart(terminal: boolean) {
  const data = await mkdtemp(join(tmpdir(), 'packyard-first-'));
  dirs.push(data);
  const port = await freePort();
  const env = { ...process.env };
  delete env.PACKYARD_ADMIN_TOKEN;
  const argv = [process.execPath, join(repoRoot, 'bin/packyard.mjs'), 'serve', '--data', data, '--port', String(port)];
  const proc = terminal
    ? spawn('script', ['-qfec', argv.map((a) => `'${a}'`).join(' '), '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true })
    : spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  started.push(proc);
  return { data, url: `http://127.0.0.1:${port}`, proc, out: await printed(proc) };
}

/** Everything `packyard serve` prints (both streams) up to its last line of apt instructions. */
function printed(proc: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const take = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('sudo apt-get update')) setTimeout(() => resolve(out), 200);
    };
    proc.stdout!.on('data', take);
    proc.stderr!.on('data', take);
    proc.once('exit', (code) => reject(new Error(`packyard serve exited with ${code}:\n${out}`)));
  });
}

describe('the first start', () => {
  it('prints an admin token and apt lines that work as printed, on a terminal', async () => {
    const { data, url, out } = await firstStart(true);
    const port = new URL(url).port;

    const admin = /Admin token[^\n]*\n\s+(pky_[0-9a-f]+)/.exec(out)?.[1];
    expect(admin, out).toBeDefined();
    const sourcesLine = /echo "(deb \[signed-by=[^"]+)"/.exec(out)?.[1];
    const authLine = /echo "(machine [^"]+)" \| sudo tee \/etc\/apt\/auth\.conf\.d\/default\.conf/.exec(out)?.[1];
    expect(sourcesLine).toBe(`deb [signed-by=/etc/apt/keyrings/default.gpg] ${url}/default stable main`);
    expect(authLine).toMatch(new RegExp(`^machine ${url}/default login apt password pyt_[0-9a-f]{16}_[0-9a-f]{40}$`));

    const deb = await buildDeb({ name: 'welcome', version: '1.0', arch: 'all' }, join(data, '..', `${port}-debs`));
    await api(url, admin).upload('default', 'stable', 'main', [deb.path]);
    const apt = await aptRoot();
    try {
      const keyring = new Uint8Array(await (await fetch(`${url}/default/public.gpg`)).arrayBuffer());
      await apt.configure({ sourcesLine: sourcesLine!, keyringBytes: keyring, keyringPath: '/etc/apt/keyrings/default.gpg', authConf: authLine! });
      const update = await apt.update();
      expect(update.code, update.stdout + update.stderr).toBe(0);
      expect((await apt.aptCache(['policy', 'welcome'])).stdout).toMatch(/Candidate: 1\.0/);
    } finally {
      await apt.dispose();
    }
  });

  it('prints no secret without a terminal, and says how to make tokens instead', async () => {
    const { data, url, proc, out } = await firstStart(false);
    expect(out).not.toMatch(/pky_[0-9a-f]{8}|pyt_[0-9a-f]{16}_/);
    expect(out).toContain(`packyard token create --data ${data} --admin`);
    expect(out).toContain('echo "machine http://127.0.0.1');
    expect(proc.exitCode).toBe(null);

    const cli = (args: string[]) => run(process.execPath, [join(repoRoot, 'bin/packyard.mjs'), ...args], { timeoutMs: 60_000 });
    const admin = await cli(['token', 'create', '--data', data, '--admin', '--name', 'ops']);
    expect(admin.code, admin.stderr).toBe(0);
    const adminToken = admin.stdout.trim();
    expect((await api(url, adminToken).fetch('/api/v1/tokens')).status).toBe(200);
    const read = await cli(['token', 'create', '--data', data, '--repo', 'default', '--scope', 'read', '--name', 'apt']);
    expect(read.code, read.stderr).toBe(0);
    const inRelease = await fetch(`${url}/default/dists/stable/InRelease`, { headers: { authorization: `Basic ${btoa(`apt:${read.stdout.trim()}`)}` } });
    expect(inRelease.status).toBe(200);
  });
});
