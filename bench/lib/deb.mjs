// Writes valid .deb files directly (no dpkg-deb): an ar archive of debian-binary,
// control.tar.gz (./control, ./md5sums) and data.tar.gz (or a plain data.tar for big payloads).
import { createCipheriv, createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { open } from 'node:fs/promises';

const MTIME = 1_700_000_000;

function octal(n, width) {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

/** One ustar header block. */
export function tarHeader(name, size, type) {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(type === '5' ? 0o755 : 0o644, 8), 100);
  h.write(octal(0, 8), 108);
  h.write(octal(0, 8), 116);
  h.write(octal(size, 12), 124);
  h.write(octal(MTIME, 12), 136);
  h.write('        ', 148); // checksum is computed with its own field as spaces
  h.write(type, 156);
  h.write('ustar\u000000', 257);
  h.write('root', 265);
  h.write('root', 297);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148);
  return h;
}

const pad512 = (n) => Buffer.alloc((512 - (n % 512)) % 512);

/** A tar archive of directories (names ending in /) and small files. */
export function tar(entries) {
  const parts = [];
  for (const [name, data] of entries) {
    if (name.endsWith('/')) parts.push(tarHeader(name, 0, '5'));
    else parts.push(tarHeader(name, data.length, '0'), data, pad512(data.length));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

function arHeader(name, size) {
  const field = (v, w) => String(v).padEnd(w).slice(0, w);
  return Buffer.from(field(name, 16) + field(MTIME, 12) + field(0, 6) + field(0, 6) + field(100644, 8) + field(size, 10) + '`\n', 'latin1');
}

/** ar members [name, bytes] as one buffer (used for everything but the data member of big packages). */
function ar(members) {
  const parts = [Buffer.from('!<arch>\n')];
  for (const [name, data] of members) {
    parts.push(arHeader(name, data.length), data);
    if (data.length % 2) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

export function controlText(f) {
  const lines = [`Package: ${f.package}`];
  if (f.source && f.source !== f.package) lines.push(`Source: ${f.source}`);
  lines.push(`Version: ${f.version}`, `Architecture: ${f.architecture}`, `Maintainer: ${f.maintainer ?? 'Bench Maintainers <bench@example.invalid>'}`);
  lines.push(`Installed-Size: ${f.installedSize ?? 12}`);
  if (f.depends) lines.push(`Depends: ${f.depends}`);
  lines.push(`Section: ${f.section ?? 'misc'}`, `Priority: ${f.priority ?? 'optional'}`);
  if (f.homepage) lines.push(`Homepage: ${f.homepage}`);
  const [synopsis, ...rest] = (f.description ?? `${f.package} benchmark package`).split('\n');
  lines.push(`Description: ${synopsis}`, ...rest.map((l) => ` ${l || '.'}`));
  return lines.join('\n') + '\n';
}

function controlMember(fields, payloadPath, payloadMd5) {
  const control = Buffer.from(controlText(fields));
  const md5sums = Buffer.from(`${payloadMd5}  ${payloadPath}\n`);
  return gzipSync(tar([['./', null], ['./control', control], ['./md5sums', md5sums]]), { level: 6 });
}

function dirsOf(path) {
  const parts = path.split('/');
  return parts.slice(0, -1).map((_, i) => `./${parts.slice(0, i + 1).join('/')}/`);
}

/** A small .deb as bytes: one text file under /usr/share/doc/<package>/. */
export function smallDeb(fields) {
  const path = `usr/share/doc/${fields.package}/README`;
  const payload = Buffer.from(`${fields.package} ${fields.version}\n${(fields.description ?? '').repeat(2)}\n`);
  const md5 = createHash('md5').update(payload).digest('hex');
  const data = gzipSync(tar([['./', null], ...dirsOf(path).map((d) => [d, null]), [`./${path}`, payload]]), { level: 6 });
  return ar([['debian-binary', Buffer.from('2.0\n')], ['control.tar.gz', controlMember(fields, path, md5)], ['data.tar.gz', data]]);
}

/** A deterministic incompressible byte stream (AES-CTR keystream), `bytes` long, in 4 MiB chunks. */
function* keystream(seed, bytes) {
  const cipher = createCipheriv('aes-128-ctr', createHash('md5').update(seed).digest(), Buffer.alloc(16));
  const zeros = Buffer.alloc(4 * 1024 * 1024);
  for (let left = bytes; left > 0; left -= zeros.length) yield cipher.update(left >= zeros.length ? zeros : zeros.subarray(0, left));
}

/**
 * A big .deb streamed to `file`: a plain data.tar holding one file of `bytes` random bytes, so
 * nothing along the way can compress it. The payload is generated twice (once for md5sums).
 */
export async function writeBigDeb(file, fields, bytes) {
  const path = `usr/share/${fields.package}/payload.bin`;
  const md5 = createHash('md5');
  for (const chunk of keystream(fields.package, bytes)) md5.update(chunk);
  const control = controlMember({ installedSize: Math.ceil(bytes / 1024), ...fields }, path, md5.digest('hex'));
  const head = Buffer.concat([tarHeader('./', 0, '5'), ...dirsOf(path).map((d) => tarHeader(d, 0, '5')), tarHeader(`./${path}`, bytes, '0')]);
  const tail = Buffer.concat([pad512(bytes), Buffer.alloc(1024)]);
  const dataSize = head.length + bytes + tail.length;
  const out = await open(file, 'w');
  try {
    await out.write(Buffer.concat([ar([['debian-binary', Buffer.from('2.0\n')], ['control.tar.gz', control]]), arHeader('data.tar', dataSize), head]));
    for (const chunk of keystream(fields.package, bytes)) await out.write(chunk);
    await out.write(tail); // tar sizes are multiples of 512, so no ar padding byte
  } finally {
    await out.close();
  }
}
