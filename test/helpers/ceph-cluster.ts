// A real S3 server for the tests and the benchmarks: a single-node Ceph cluster (one ceph-mon,
// one memstore ceph-osd, radosgw) run as child processes on 127.0.0.1 in a temp dir, from
// Debian's packages (`ceph-mon ceph-osd radosgw ceph-common`), started in about 1.5 s: the
// monitor proposes map changes every 50 ms instead of every second (Ceph's default), which is
// what radosgw's pool creations wait on (12 s to start and 2 s for the first bucket and the
// first write with the default).
//
// cephx stays on (with auth none the OSD fails with "wrong fsid"); pool size 1 (one OSD); the
// monitor speaks msgr2 only (monmaptool gives a non-6789 port a v2 address, and a v1 client
// then hunts forever). When run as root (CI), the daemons drop to the `ceph` user Debian's
// packages create.
//
// A plain module (no vitest), so that bench/ loads it through tsx; radosgw.ts is the tests'
// wrapper (one cluster per test process, stopped after all its tests).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomUUID, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AwsClient } from 'aws4fetch';
import { runOk } from './exec.js';
import { freePort } from './server.js';

export interface S3Server {
  /** http://127.0.0.1:PORT, path-style. */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Milliseconds from the first command to radosgw answering. */
  startupMs: number;
  stop(): Promise<void>;
}

/**
 * Starts a cluster; `stop()` kills it and removes its directory. The OSD keeps every object in
 * memory, up to `memstoreBytes` (2 GiB: the tests' objects; a benchmark's 1 GiB uploads need more).
 */
export async function startCluster({ memstoreBytes = 2 * 1024 ** 3 } = {}): Promise<S3Server> {
  const started = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'packyard-ceph-'));
  const [monPort, rgwPort] = [await freePort(), await freePort()];
  const fsid = randomUUID();
  const conf = join(dir, 'ceph.conf');
  const keyring = join(dir, 'keyring');
  await mkdir(join(dir, 'mon'));
  await mkdir(join(dir, 'osd0'));
  await mkdir(join(dir, 'run'));
  // tcp_nodelay: without it beast writes a response's headers and body as two segments, and the
  // second waits for the client's delayed ACK about one request in three (a 40 ms stall that
  // AWS, R2 and a tuned radosgw do not have; measured by bench/s3.mjs add-one: 97 ms → 60 ms).
  await writeFile(
    conf,
    `[global]
fsid = ${fsid}
mon host = [v2:127.0.0.1:${monPort}]
public addr = 127.0.0.1
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = ${keyring}
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
log file = ${dir}/$name.log
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
paxos propose interval = 0.05
paxos min wait = 0.01
[mon]
mon data = ${dir}/mon
[osd]
osd data = ${dir}/osd$id
osd objectstore = memstore
memstore device bytes = ${memstoreBytes}
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort} tcp_nodelay=1
`,
  );
  // Every key in one keyring; ceph-mon --mkfs imports them all with their caps, which spares
  // the slow `ceph auth add` calls.
  const keys: [string, string[]][] = [
    ['mon.', ['mon', 'allow *']],
    ['client.admin', ['mon', 'allow *', 'osd', 'allow *', 'mgr', 'allow *']],
    ['osd.0', ['mon', 'allow profile osd', 'osd', 'allow *']],
    ['client.rgw', ['mon', 'allow rw', 'osd', 'allow rwx']],
  ];
  for (const [i, [name, caps]] of keys.entries()) {
    const capArgs = [];
    for (let c = 0; c < caps.length; c += 2) capArgs.push('--cap', caps[c]!, caps[c + 1]!);
    await runOk('ceph-authtool', [...(i === 0 ? ['--create-keyring'] : []), keyring, '--gen-key', '-n', name, ...capArgs]);
  }
  await runOk('monmaptool', ['--create', '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, '--fsid', fsid, join(dir, 'monmap')]);
  await runOk('ceph-mon', ['-c', conf, '--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap'), '--keyring', keyring]);

  const user = dropTo(dir);
  const procs: ChildProcess[] = [];
  const daemon = (cmd: string, args: string[]) => {
    const proc = spawn(cmd, ['-f', '-c', conf, ...args, ...user], { stdio: 'ignore' });
    procs.push(proc);
    return proc;
  };
  const killAll = () => procs.forEach((p) => p.exitCode === null && p.kill('SIGKILL'));
  process.once('exit', killAll);
  try {
    daemon('ceph-mon', ['-i', 'a']);
    const osdUuid = randomUUID();
    await runOk('ceph', ['-c', conf, '--connect-timeout', '20', 'osd', 'new', osdUuid, '0'], { timeoutMs: 30_000 });
    await runOk('ceph-osd', ['-c', conf, '-i', '0', '--mkfs', '--osd-uuid', osdUuid]);
    if (user.length) await runOk('chown', ['-R', 'ceph:ceph', dir]);
    daemon('ceph-osd', ['-i', '0']);
    const rgw = daemon('radosgw', ['-n', 'client.rgw']);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    for (;;) {
      if (await fetch(endpoint).then(() => true, () => false)) break;
      if (rgw.exitCode !== null) throw new Error(`radosgw exited ${rgw.exitCode}; see ${dir}/client.rgw.log`);
      if (Date.now() - started > 90_000) throw new Error(`radosgw did not answer in 90 s; see the logs in ${dir}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const accessKeyId = randomBytes(10).toString('hex').toUpperCase();
    const secretAccessKey = randomBytes(20).toString('hex');
    await runOk('radosgw-admin', ['-c', conf, 'user', 'create', '--uid=packyard', '--display-name=packyard', `--access-key=${accessKeyId}`, `--secret=${secretAccessKey}`]);
    const startupMs = Date.now() - started;
    return {
      endpoint,
      accessKeyId,
      secretAccessKey,
      startupMs,
      async stop() {
        process.removeListener('exit', killAll);
        await Promise.all(procs.map((p) => (p.exitCode !== null ? undefined : new Promise((r) => (p.once('exit', r), p.kill('SIGKILL'))))));
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    killAll();
    throw err;
  }
}

/** `--setuser ceph --setgroup ceph` when running as root and Debian's ceph user exists. */
function dropTo(dir: string): string[] {
  if (process.getuid?.() !== 0) return [];
  try {
    execFileSync('id', ['ceph'], { stdio: 'ignore' });
  } catch {
    return [];
  }
  execFileSync('chown', ['-R', 'ceph:ceph', dir]);
  return ['--setuser', 'ceph', '--setgroup', 'ceph'];
}


/** Creates a bucket on the cluster; resolves with the AWS_* variables that reach it. */
export async function createBucket(server: S3Server, bucket: string): Promise<Record<string, string>> {
  const client = new AwsClient({ accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, service: 's3', region: 'us-east-1' });
  const res = await client.fetch(`${server.endpoint}/${bucket}`, { method: 'PUT' });
  if (!res.ok) throw new Error(`creating bucket ${bucket}: ${res.status} ${await res.text()}`);
  return { AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey, AWS_ENDPOINT_URL: server.endpoint };
}
