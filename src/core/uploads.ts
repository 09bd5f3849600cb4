import { z } from 'zod';
import { PackyardError } from '../util/errors.js';
import { deleteAll, readJson, type PartInfo, type Storage } from '../storage/types.js';
import { layout } from './layout.js';

/**
 * Every part but the last has this size: well under the 100 MB request cap of Cloudflare's Free
 * and Pro plans, above R2's 5 MiB minimum, and few enough parts for a gigabyte package.
 */
export const PART_SIZE = 32 * 1024 * 1024;
/** Larger than any .deb anyone ships, and a bound on parts (R2 allows 10,000). */
const MAX_SIZE = 64 * 1024 ** 3;
const UPLOAD_ID = /^[0-9a-f]{32}$/;

export const startUploadSchema = z.strictObject({
  name: z.string().min(1).max(255).optional(),
  size: z.number().int().positive().max(MAX_SIZE),
});

/** A resumable upload: where its object goes, and how it is cut into parts. */
export interface UploadSession {
  id: string;
  name: string;
  size: number;
  partSize: number;
  parts: number;
  /** Storage key the completed object lands under (a blob key of the repository). */
  key: string;
  /** The storage backend's multipart upload id. */
  storageUploadId: string;
  createdAt: string;
  actor: string;
}

/** Starts, fills, inspects, completes and drops resumable uploads of one repository's packages. */
export class Uploads {
  constructor(
    private readonly storage: Storage,
    private readonly partBytes = PART_SIZE,
  ) {}

  async start(repo: string, input: z.infer<typeof startUploadSchema>, actor: string, now: Date): Promise<UploadSession> {
    const id = crypto.randomUUID().replaceAll('-', '');
    const key = layout.blob(repo, crypto.randomUUID());
    const session: UploadSession = {
      id,
      name: input.name ?? 'upload.deb',
      size: input.size,
      partSize: this.partBytes,
      parts: Math.ceil(input.size / this.partBytes),
      key,
      storageUploadId: await this.storage.createMultipart(key),
      createdAt: now.toISOString(),
      actor,
    };
    await this.storage.put(layout.upload(repo, id), JSON.stringify(session), { ifNoneMatch: '*' });
    return session;
  }

  async get(repo: string, id: string): Promise<UploadSession> {
    const session = UPLOAD_ID.test(id) ? await readJson<UploadSession>(this.storage, layout.upload(repo, id)) : null;
    if (!session) throw new PackyardError(404, 'upload-not-found', `repository ${repo} has no upload ${id}`);
    return session;
  }

  /** The size part `part` must have. */
  partSize(session: UploadSession, part: number): number {
    if (!Number.isInteger(part) || part < 1 || part > session.parts) throw new PackyardError(400, 'bad-part-number', `upload ${session.id} has parts 1 to ${session.parts}, not ${part}`);
    return part < session.parts ? session.partSize : session.size - (session.parts - 1) * session.partSize;
  }

  async putPart(repo: string, id: string, part: number, body: ReadableStream<Uint8Array>, size: number | undefined): Promise<PartInfo> {
    const session = await this.get(repo, id);
    const expected = this.partSize(session, part);
    if (size === undefined) throw new PackyardError(411, 'length-required', 'a part needs a Content-Length header');
    if (size !== expected) throw new PackyardError(400, 'part-size-mismatch', `part ${part} of upload ${id} must be ${expected} bytes, not ${size}`);
    const info = await this.storage.putPart(session.key, session.storageUploadId, part, body, size);
    await this.storage.put(layout.uploadPart(repo, id, part), JSON.stringify(info));
    return info;
  }

  /** The parts received so far, in order. */
  async received(repo: string, id: string): Promise<PartInfo[]> {
    const parts: PartInfo[] = [];
    for await (const obj of this.storage.list(layout.uploadPartsPrefix(repo, id))) {
      const info = await readJson<PartInfo>(this.storage, obj.key);
      if (info) parts.push(info);
    }
    return parts.sort((a, b) => a.part - b.part);
  }

  /**
   * Joins the parts into the object under the session's key, which it returns. The session stays
   * until `finish`, after the package is published: a publish cut short by a crash, even one
   * after the join, is redone by the next one, which finds the joined object.
   */
  async complete(repo: string, id: string): Promise<{ session: UploadSession; key: string }> {
    const session = await this.get(repo, id);
    const parts = await this.received(repo, id);
    const missing = Array.from({ length: session.parts }, (_, i) => i + 1).filter((n) => !parts.some((p) => p.part === n));
    if (missing.length) throw incomplete(session, `is missing part${missing.length > 1 ? 's' : ''} ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''}`);
    try {
      await this.storage.completeMultipart(session.key, session.storageUploadId, parts);
    } catch (err) {
      if (!(err instanceof PackyardError && err.code === 'part-missing')) throw err;
      // The backend lost a part or holds another one under its number (R2, after a crash between
      // a part and its record): which one, it may not say. Status must not claim any of them.
      await deleteAll(this.storage, layout.uploadPartsPrefix(repo, id));
      throw incomplete(session, 'lost a part: send all parts again');
    }
    return { session, key: session.key };
  }

  /** Ends an upload whose object has been published or dropped. */
  async finish(repo: string, id: string): Promise<void> {
    await deleteAll(this.storage, layout.uploadPartsPrefix(repo, id));
    await this.storage.delete(layout.upload(repo, id));
  }

  async abort(repo: string, id: string): Promise<void> {
    const session = await this.get(repo, id);
    // Records go before the parts they name, so that no crash leaves status claiming a lost part.
    await deleteAll(this.storage, layout.uploadPartsPrefix(repo, id));
    await this.storage.abortMultipart(session.key, session.storageUploadId);
    await this.storage.delete(layout.upload(repo, id));
  }

  /** The backend's multipart upload ids the repository's sessions still name. */
  async storageUploadIds(repo: string): Promise<Set<string>> {
    const ids = new Set<string>();
    for await (const obj of this.storage.list(layout.uploadsPrefix(repo))) {
      if (!/^[0-9a-f]{32}\.json$/.test(obj.key.slice(layout.uploadsPrefix(repo).length))) continue;
      const session = await readJson<UploadSession>(this.storage, obj.key);
      if (session) ids.add(session.storageUploadId);
    }
    return ids;
  }

  /**
   * Ends the uploads started before `before` and not completed, returning how many. Their parts
   * may be held by the backend outside any listing (R2's multipart uploads), so deleting the
   * session's objects alone would not free them.
   */
  async abortAbandoned(repo: string, before: number): Promise<number> {
    const stale: string[] = [];
    for await (const obj of this.storage.list(layout.uploadsPrefix(repo))) {
      const id = /^([0-9a-f]{32})\.json$/.exec(obj.key.slice(layout.uploadsPrefix(repo).length))?.[1];
      if (id && obj.lastModified.getTime() < before) stale.push(id);
    }
    for (const id of stale) await this.abort(repo, id);
    return stale.length;
  }
}

function incomplete(session: UploadSession, what: string): PackyardError {
  return new PackyardError(409, 'upload-incomplete', `upload ${session.id} (${session.name}) ${what}`);
}
