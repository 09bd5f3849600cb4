// A throwaway GnuPG signing key in its own GNUPGHOME, for building reference
// repositories (apt-ftparchive) that real apt must accept with signature checking on.
//
// `ed25519` in GnuPG 2.2 (bookworm) makes a v4 key with the legacy EdDSA algorithm,
// which bookworm's gpgv accepts (RFC 9580 Ed25519 keys it does not: see DESIGN.md).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { run, runOk } from './exec.js';

export interface TestKey {
  gnupgHome: string;
  fingerprint: string;
  /** Binary (unarmored) public key: what a `signed-by=....gpg` file holds. */
  publicKey: Uint8Array;
  /** Writes an inline-signed copy of inFile (InRelease). */
  clearsign(inFile: string, outFile: string): Promise<void>;
  /** Writes an armored detached signature of inFile (Release.gpg). */
  detachSign(inFile: string, outFile: string): Promise<void>;
  /** Stops the key's gpg-agent and deletes GNUPGHOME. */
  dispose(): Promise<void>;
}

export async function makeTestKey(uid = 'Packyard Test <test@packyard.invalid>'): Promise<TestKey> {
  // Short path: gpg-agent's socket lives in GNUPGHOME and socket paths max out at 108 bytes.
  const gnupgHome = await mkdtemp(path.join(os.tmpdir(), 'pyg-'));
  const env = { GNUPGHOME: gnupgHome };
  const gpg = (args: string[]) =>
    runOk('gpg', ['--batch', '--no-tty', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { env });
  await gpg(['--quick-gen-key', uid, 'ed25519', 'sign', 'never']);
  const list = await gpg(['--with-colons', '--list-secret-keys']);
  const fingerprint = /^fpr:(?::*)([0-9A-F]{40}):/m.exec(list.stdout)?.[1];
  if (!fingerprint) throw new Error(`no fingerprint in gpg output:\n${list.stdout}`);
  // Export to a file: run() decodes stdout as UTF-8, which would mangle binary packets.
  const keyFile = path.join(gnupgHome, 'public.gpg');
  await gpg(['--yes', '--output', keyFile, '--export', fingerprint]);
  const publicKey = new Uint8Array(await readFile(keyFile));
  return {
    gnupgHome,
    fingerprint,
    publicKey,
    clearsign: async (inFile, outFile) => {
      await gpg(['--yes', '--local-user', fingerprint, '--digest-algo', 'SHA512', '--output', outFile, '--clearsign', inFile]);
    },
    detachSign: async (inFile, outFile) => {
      await gpg(['--yes', '--local-user', fingerprint, '--digest-algo', 'SHA512', '--armor', '--output', outFile, '--detach-sign', inFile]);
    },
    dispose: async () => {
      await run('gpgconf', ['--kill', 'gpg-agent'], { env });
      await rm(gnupgHome, { recursive: true, force: true });
    },
  };
}
