import { openAsBlob } from 'node:fs';
import { formats } from '../../src/formats/index.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { Storage } from '../../src/storage/types.js';
import { RepositoryService, type UploadFile } from '../../src/core/service.js';
import { Signer } from '../../src/signing/signer.js';
import { generateSigningKey } from '../../src/signing/keys.js';
import { createNodeHasher } from '../../src/hosts/node/hasher.js';
import { openFile } from '../../src/core/files.js';
import type { FileEntry } from '../../src/core/snapshot.js';
import { streamBytes } from '../../src/util/bytes.js';

let signer: Promise<Signer> | undefined;

/** One signing key per test process: generating keys is the slow part of setting up a service. */
export function testSigner(): Promise<Signer> {
  signer ??= generateSigningKey('Packyard test').then((k) => Signer.fromArmored([k.armoredPrivateKey]));
  return signer;
}

export async function testService(storage: Storage = new MemoryStorage(), now?: () => Date): Promise<RepositoryService> {
  // Resumable uploads in parts of R2's minimum size, so a test package of megabytes has several.
  return new RepositoryService({ formats, storage, signer: await testSigner(), createHasher: createNodeHasher, now, headTtlMs: 0, uploadPartSize: 5 * 1024 * 1024 });
}

export async function fileUpload(path: string): Promise<UploadFile> {
  const blob = await openAsBlob(path);
  return { name: path, open: () => blob.stream() as ReadableStream<Uint8Array> };
}

export function bytesUpload(name: string, bytes: Uint8Array): UploadFile {
  return { name, open: () => new Blob([bytes as Uint8Array<ArrayBuffer>]).stream() };
}

/** The bytes clients get for a snapshot's file (decompressed when it is kept gzipped). */
export async function fileBytes(storage: Storage, entry: FileEntry): Promise<Uint8Array> {
  const body = await openFile(storage, entry);
  if (!body) throw new Error(`${entry.key} is not stored`);
  return streamBytes(body);
}

export async function fileText(storage: Storage, entry: FileEntry): Promise<string> {
  return new TextDecoder().decode(await fileBytes(storage, entry));
}
