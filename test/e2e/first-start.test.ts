// The README's first command, followed as a newcomer would: `packyard serve` on a new data
// directory prints an admin token and the lines to paste on a client; pasted into apt (with the
// read token they carry, since repositories are private), apt updates from the served repository.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aptRoot } from '../helpers/chroot.js';
import { buildDeb } from '../helpers/debs.js';
import { repoRoot } from '../helpers/exec.js';
import { api, freePort } from '../helpers/server.js';

let serve: ChildProcess | undefined;
let data: string;

afterAll(async () => {
  serve?.kill();
  await rm(data, { recursive: true, force: true });
});

/** Everything `packyard serve` prints up to its last line of apt instructions. */
function printed(proc: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('sudo apt-get update')) resolve(out);
    });
    proc.once('exit', (code) => reject(new Error(`packyard serve exited with ${code}:\n${out}`)));
  });
}

describe('the first start', () => {
  it('prints an admin token and apt lines that work as printed', async () => {
    data = await mkdtemp(join(tmpdir(), 'packyard-first-'));
    const port = await freePort();
    const env = { ...process.env };
    delete env.PACKYARD_ADMIN_TOKEN;
    serve = spawn(process.execPath, [join(repoRoot, 'bin/packyard.mjs'), 'serve', '--data', data, '--port', String(port)], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    const out = await printed(serve);
    const url = `http://127.0.0.1:${port}`;

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
});
