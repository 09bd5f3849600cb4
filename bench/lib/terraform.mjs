// Terraform modules for the benchmarks: small .tar.gz archives written in memory, a big one of
// incompressible files streamed to disk, and publishing them to a server's API.
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { gzipSync, createGzip } from 'node:zlib';
import { createCipheriv, createHash } from 'node:crypto';
import { finished } from 'node:stream/promises';
import { tar, tarHeader } from './deb.mjs';

/** A small module archive (.tar.gz) for one version: main.tf, variables.tf, a README. */
export function smallModule(name, version) {
  const main = Buffer.from(`# ${name} ${version}\nvariable "cidr" {\n  type = string\n}\n\noutput "cidr" {\n  value = var.cidr\n}\n`);
  const variables = Buffer.from(`variable "tags" {\n  type    = map(string)\n  default = {}\n}\n`);
  const readme = Buffer.from(`# ${name}\n\nVersion ${version} of a generated module.\n`);
  return gzipSync(tar([['./', null], ['./main.tf', main], ['./variables.tf', variables], ['./README.md', readme]]), { level: 6 });
}

/**
 * A big module archive streamed to `file`: a .tar.gz of one main.tf and `files` files of
 * `fileBytes` bytes of AES-CTR keystream each (incompressible, so the .tar.gz is as big as its
 * contents). Resolves with the archive's size.
 */
export async function writeBigModule(file, { files, fileBytes }) {
  const out = await open(file, 'w');
  const stream = out.createWriteStream();
  const gzip = createGzip({ level: 1 });
  gzip.pipe(stream);
  const write = (chunk) => (gzip.write(chunk) ? undefined : new Promise((r) => gzip.once('drain', r)));
  const main = Buffer.from('variable "payload" {\n  type    = string\n  default = "data"\n}\n');
  await write(Buffer.concat([tarHeader('./main.tf', main.length, '0'), main, Buffer.alloc((512 - (main.length % 512)) % 512)]));
  const zeros = Buffer.alloc(4 * 1024 * 1024);
  for (let f = 0; f < files; f++) {
    await write(tarHeader(`./data/blob-${f}.bin`, fileBytes, '0'));
    const cipher = createCipheriv('aes-128-ctr', createHash('md5').update(`module-blob-${f}`).digest(), Buffer.alloc(16));
    for (let left = fileBytes; left > 0; left -= zeros.length) await write(cipher.update(left >= zeros.length ? zeros : zeros.subarray(0, left)));
    await write(Buffer.alloc((512 - (fileBytes % 512)) % 512));
  }
  gzip.end(Buffer.alloc(1024));
  await finished(stream);
  return (await stat(file)).size;
}

/** Creates a Terraform repository (private unless `public`). */
export async function createTerraformRepo(server, name, { public: isPublic = false } = {}) {
  const response = await fetch(`${server.url}/api/v1/repos`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, type: 'terraform', public: isPublic }),
  });
  if (response.status !== 201) throw new Error(`creating ${name}: HTTP ${response.status} ${await response.text()}`);
}

/** A read token for `repo`, as Terraform would send it (`TF_TOKEN_<host>`). */
export async function readToken(server, repo) {
  const response = await fetch(`${server.url}/api/v1/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: `bench read ${repo}`, repos: { [repo]: ['read'] } }),
  });
  const json = await response.json();
  if (response.status !== 201) throw new Error(`token for ${repo}: HTTP ${response.status} ${JSON.stringify(json)}`);
  return json.token;
}

/**
 * Publishes one module version: `body` is bytes, or a file path streamed as the request body.
 * Resolves with the response JSON; throws unless 201.
 */
export async function publishModule(server, repo, { name, system, version }, body) {
  const streamed = typeof body === 'string';
  const response = await fetch(`${server.url}/api/v1/repos/${repo}/modules/${name}/${system}/${version}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/gzip' },
    body: streamed ? Readable.toWeb(createReadStream(body)) : body,
    ...(streamed ? { duplex: 'half' } : {}),
  });
  const json = await response.json();
  if (response.status !== 201) throw new Error(`publishing ${name}/${system} ${version}: HTTP ${response.status} ${JSON.stringify(json)}`);
  return json;
}
