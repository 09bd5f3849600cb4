// Tests the server helper itself against a stand-in that speaks the CLI/API contract
// (test/fixtures/fake-packyard.mjs): start/ready/stop/kill, log capture, and the
// client's Bearer auth and multipart upload. The real server is tested elsewhere.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, api, aptLine, startServer } from './server.js';
import { repoRoot } from './exec.js';

const entry = path.join(repoRoot, 'test/fixtures/fake-packyard.mjs');
let work: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'packyard-server-helper-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('startServer / api (against a contract stand-in)', () => {
  it('starts, answers, uploads multipart, and stops cleanly', async () => {
    const s = await startServer({ entry });
    try {
      expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const c = api(s.url, s.token);
      expect(await c.createRepo('r1')).toMatchObject({ name: 'r1', type: 'deb', data: s.dataDir });
      const a = path.join(work, 'a.deb');
      const b = path.join(work, 'b.deb');
      await writeFile(a, 'aaaa');
      await writeFile(b, 'bbbbbbbb');
      expect(await c.upload('r1', 'stable', 'main', [a, b])).toEqual({
        repo: 'r1',
        distribution: 'stable',
        component: 'main',
        files: [
          { name: 'a.deb', size: 4 },
          { name: 'b.deb', size: 8 },
        ],
      });
      expect([...(await c.publicKey('r1'))]).toEqual([0x99, 0x00, 0x01, 0x04]);
      await expect(api(s.url, 'wrong').createRepo('r2')).rejects.toMatchObject({ status: 401 });
      await expect(c.publicKey('nope')).rejects.toBeInstanceOf(ApiError);
    } finally {
      const exit = await s.stop();
      expect(exit.code).toBe(0);
    }
    expect(existsSync(s.dataDir)).toBe(false);
    expect(await readFile(s.logFile, 'utf8')).toMatch(/SIGTERM, closing/);
  });

  it('kill() keeps the data dir so a new server can start on it', async () => {
    const s = await startServer({ entry });
    expect(await s.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    expect(existsSync(s.dataDir)).toBe(true);
    const again = await startServer({ entry, dataDir: s.dataDir });
    await again.stop();
    expect(existsSync(s.dataDir)).toBe(true); // not owned by the second server
    await rm(s.dataDir, { recursive: true, force: true });
  });

  it('reports a server that exits before it is ready, with its log', async () => {
    await expect(startServer({ entry, env: { FAKE_PACKYARD_FAIL: '1' } })).rejects.toThrow(/exited \(code 3[\s\S]*failing on purpose/);
  });

  it('makes the apt line Packyard documents', () => {
    expect(aptLine('http://127.0.0.1:1', 'r', 'stable', 'main')).toBe(
      'deb [signed-by=/etc/apt/keyrings/r.gpg] http://127.0.0.1:1/r stable main',
    );
  });
});
