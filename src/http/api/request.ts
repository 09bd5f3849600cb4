import type { Context } from 'hono';
import { PackyardError } from '../../util/errors.js';
import type { UploadFile } from '../../core/service.js';
import { boundaryOf, parseMultipart } from '../../util/multipart.js';
import { concatBytes } from '../../util/bytes.js';

export function required(c: Context, name: string): string {
  const value = c.req.query(name);
  if (!value) throw new PackyardError(400, 'missing-parameter', `query parameter "${name}" is required`);
  return value;
}

export function flag(c: Context, name: string): boolean {
  return ['1', 'true', 'yes'].includes(c.req.query(name) ?? '');
}

export async function jsonBody(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    throw new PackyardError(400, 'invalid-json', 'the request body must be JSON');
  }
}

/**
 * The upload's files: each `file` part of a multipart body and each resumable upload named by an
 * `upload` part; or the uploads listed in a JSON body (`{"uploads": [id, …]}`); or the whole
 * body as one `.deb`.
 */
export async function* uploadedFiles(request: Request): AsyncGenerator<UploadFile> {
  if (!request.body) throw new PackyardError(400, 'no-files', 'the upload has no body');
  const type = request.headers.get('content-type');
  if (type?.split(';')[0]!.trim() === 'application/json') {
    yield* uploadsNamedIn(await request.json().catch(() => null));
    return;
  }
  const boundary = boundaryOf(type);
  if (!boundary) {
    if (type?.startsWith('multipart/')) throw new PackyardError(400, 'bad-multipart', 'multipart body without a boundary');
    const body = request.body;
    yield { name: 'body', open: () => body };
    return;
  }
  for await (const part of parseMultipart(request.body, boundary)) {
    if (part.name === 'upload') {
      const id = await shortText(part.body, 256);
      yield { name: `upload ${id}`, upload: id };
      continue;
    }
    if (part.name !== 'file') {
      await part.body.cancel();
      continue;
    }
    yield { name: part.filename ?? 'file', open: () => part.body };
  }
  await drainEpilogue(request.body);
}

/** A small text field's value; refuses more than `max` bytes rather than buffering them. */
async function shortText(body: ReadableStream<Uint8Array>, max: number): Promise<string> {
  let text = '';
  const decoder = new TextDecoder();
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text.trim();
    text += decoder.decode(value, { stream: true });
    if (text.length > max) {
      await reader.cancel();
      throw new PackyardError(400, 'bad-multipart', `a form field is longer than ${max} bytes`);
    }
  }
}

function* uploadsNamedIn(json: unknown): Generator<UploadFile> {
  const ids = (json as { uploads?: unknown } | null)?.uploads;
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) throw new PackyardError(400, 'invalid-json', 'a JSON body must be {"uploads": ["<upload id>", …]}');
  for (const id of ids) yield { name: `upload ${id}`, upload: id };
}

/**
 * Reads what follows the closing boundary (usually a CRLF) to the end: a request body left
 * unread keeps a kept-alive connection from carrying the client's next request.
 */
async function drainEpilogue(body: ReadableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader();
  for (let total = 0; ; ) {
    const { done, value } = await reader.read();
    if (done) return;
    total += value.length;
    if (total > 64 * 1024) throw new PackyardError(400, 'bad-multipart', 'more than 64 KiB of data after the closing boundary');
  }
}

/** The whole body as bytes, refused (413) past `max` rather than buffered. */
export async function boundedBody(request: Request, max: number): Promise<Uint8Array> {
  if (Number(request.headers.get('content-length') ?? 0) > max) throw new PackyardError(413, 'too-large', `the body is over ${max} bytes`);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body?.getReader();
  for (;;) {
    const chunk = await reader?.read();
    if (!chunk || chunk.done) break;
    size += chunk.value.length;
    if (size > max) {
      await reader!.cancel();
      throw new PackyardError(413, 'too-large', `the body is over ${max} bytes`);
    }
    chunks.push(chunk.value);
  }
  return concatBytes(chunks, size);
}
