// The peers: a throwaway gpg key, aptly and reprepro, set up in temporary directories.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { atExit, run, tempDir } from './proc.mjs';

/** A throwaway Ed25519 signing key in its own GNUPGHOME (its gpg-agent is stopped at exit). */
export async function throwawayKey() {
  const home = tempDir('gnupg');
  chmodSync(home, 0o700);
  const env = { GNUPGHOME: home };
  atExit(() => spawnSync('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, ...env } }));
  await run('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', 'Packyard bench <bench@example.invalid>', 'ed25519', 'sign', 'never'], { env });
  const { stdout } = await run('gpg', ['--list-keys', '--with-colons'], { env });
  const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(stdout)[1];
  return { home, env, fpr };
}

/** reprepro: one signed distribution `dist` with component main, architecture amd64. */
export const reprepro = {
  create(dir, key, dist) {
    mkdirSync(join(dir, 'conf'), { recursive: true });
    writeFileSync(join(dir, 'conf/distributions'), `Codename: ${dist}\nSuite: ${dist}\nComponents: main\nArchitectures: amd64\nSignWith: ${key.fpr}\n`);
  },
  includedeb(dir, key, dist, files) {
    return run('reprepro', ['-b', dir, '--gnupghome', key.home, 'includedeb', dist, ...files], { env: key.env });
  },
};

/** aptly: a local repo published (signed) from its own root directory. */
export const aptly = {
  create(dir) {
    const config = join(dir, 'aptly.conf');
    writeFileSync(config, JSON.stringify({ rootDir: join(dir, 'root'), gpgProvider: 'gpg2', architectures: [] }));
    return config;
  },
  async addAndPublish(config, key, dist, inputDir) {
    const env = key.env;
    // Timed like Packyard's `repo create` + `add`: all three steps.
    const create = await run('aptly', [`-config=${config}`, 'repo', 'create', `-distribution=${dist}`, '-component=main', 'bench'], { env });
    const add = await run('aptly', [`-config=${config}`, 'repo', 'add', 'bench', inputDir], { env });
    const publish = await run('aptly', [`-config=${config}`, 'publish', 'repo', `-gpg-key=${key.fpr}`, '-batch', 'bench'], { env });
    return { createMs: create.ms, addMs: add.ms, publishMs: publish.ms };
  },
};
