// A repository large enough that its Packages.gz is written as several gzip members (the Node
// host compresses big indexes in parallel): apt must read it whole, signature checking on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { aptRoot, type AptRoot } from '../helpers/chroot.js';
import { api, aptLine, startServer, type RunningServer } from '../helpers/server.js';
import { repoRoot, runOk } from '../helpers/exec.js';
// The benchmarks' generator writes valid .debs directly: thousands in a second.
// @ts-expect-error plain JavaScript module without types
import { smallDeb } from '../../bench/lib/deb.mjs';
// @ts-expect-error plain JavaScript module without types
import { packageFields, debFileName } from '../../bench/lib/inputs.mjs';

const COUNT = 1500;
let server: RunningServer;
let apt: AptRoot;

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'packyard-large-'));
  const files: string[] = [];
  await mkdir(join(dir, 'debs'));
  for (let i = 0; i < COUNT; i++) {
    const fields = packageFields(i);
    const file = join(dir, 'debs', debFileName(fields));
    await writeFile(file, smallDeb(fields));
    files.push(file);
  }
  const data = join(dir, 'data');
  server = await startServer({ dataDir: data });
  await api(server.url, server.token).createRepo('big');
  await runOk('node', [join(repoRoot, 'bin/packyard.mjs'), 'add', '--data', data, '--repo', 'big', '--distribution', 'stable', ...files], { timeoutMs: 120_000 });
  apt = await aptRoot();
}, 300_000);

afterAll(async () => {
  await apt?.dispose();
  await server?.stop();
});

describe('a large index', () => {
  it('is published as a multi-member Packages.gz that apt reads whole', async () => {
    // `packyard add` ran in another process: the server sees it once its head cache expires.
    await new Promise((r) => setTimeout(r, 1100));
    const gz = Buffer.from(await (await fetch(`${server.url}/big/dists/stable/main/binary-amd64/Packages.gz`)).arrayBuffer());
    const plain = Buffer.from(await (await fetch(`${server.url}/big/dists/stable/main/binary-amd64/Packages`)).arrayBuffer());
    expect(plain.length).toBeGreaterThan(512 * 1024);
    let members = 0;
    for (let i = gz.indexOf(Buffer.from([0x1f, 0x8b, 0x08])); i >= 0; i = gz.indexOf(Buffer.from([0x1f, 0x8b, 0x08]), i + 1)) members++;
    expect(members).toBeGreaterThan(1);
    expect(gunzipSync(gz).equals(plain)).toBe(true);

    await apt.configure({ sourcesLine: aptLine(server.url, 'big', 'stable', 'main'), keyringBytes: await api(server.url).publicKey('big') });
    const update = await apt.update();
    expect(update.code, update.stdout + update.stderr).toBe(0);
    const names = (await apt.aptCache(['pkgnames'])).stdout.trim().split('\n');
    expect(names.length).toBe(plain.toString().match(/^Package: /gm)!.length);
    const last = packageFields(COUNT - 1);
    expect((await apt.aptCache(['policy', last.package])).stdout).toMatch(/Candidate: /);
  });
});
