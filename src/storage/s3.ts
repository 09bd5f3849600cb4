import { STREAM_PART, putInParts } from './stream-parts.js';
import { AwsClient } from 'aws4fetch';
import { PackyardError } from '../util/errors.js';
import { streamOf } from '../util/bytes.js';
import { partBody } from './body.js';
import { completedBefore } from './parts.js';
import { escapeXml, parseList, parseUploads, tag, unquote } from './s3-xml.js';
import { rewrite, type ByteRange, type IncompleteWrite, type ObjectInfo, type PartInfo, type PutBody, type PutOptions, type Storage, type StoredObject } from './types.js';

export interface S3Config {
  bucket: string;
  /** Prepended to every key: `''` or a path ending in `/`. */
  prefix?: string;
  /** An S3-compatible server (Ceph, MinIO, R2): then path-style addressing. AWS when omitted. */
  endpoint?: string;
  region?: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** Keys per listing page; S3's default (1000) when omitted. Tests make it small to page. */
  maxKeys?: number;
  /** For tests and hosts that route requests; the global fetch by default. `init` is to be passed on with the request. */
  fetch?: (request: Request, init?: RequestInit) => Promise<Response>;
}

/** The standard AWS variables `fromUrl` reads. */
export type S3Env = Partial<Record<'AWS_ACCESS_KEY_ID' | 'AWS_SECRET_ACCESS_KEY' | 'AWS_SESSION_TOKEN' | 'AWS_REGION' | 'AWS_DEFAULT_REGION' | 'AWS_ENDPOINT_URL' | 'AWS_ENDPOINT_URL_S3', string | undefined>>;

/** Tries of a request that may be repeated safely (not a conditional write) on a 500 or 503. */
const TRIES = 3;

/**
 * Node's fetch tees a streamed request body to send it again on a redirect, and the branch kept
 * for that holds every byte sent until the answer: a whole part of an upload. It skips the tee
 * only when a redirect is an error and the request has no window. No redirect of a signed S3
 * request could be followed (its signature names the host and path), so none is. workerd streams
 * the body as it is and knows only the modes 'follow' and 'manual'. A streamed body needs
 * `duplex` in Node (workerd ignores it).
 */
const STREAMED: { request: RequestInit; fetch?: RequestInit } =
  'FixedLengthStream' in globalThis
    ? { request: { duplex: 'half' } as RequestInit }
    : { request: { duplex: 'half', redirect: 'error' } as RequestInit, fetch: { window: null } as RequestInit };

type Body = Uint8Array | string | ReadableStream<Uint8Array>;
interface Call {
  key?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Body;
  /** Sent once only: a retry of a conditional write could fail on its own first success. */
  once?: boolean;
}

/**
 * Objects in an S3 bucket (AWS, or any S3-compatible server), over signed `fetch` requests:
 * web-standard, so the Node host and a Worker both use it. Strong read-after-write consistency
 * is assumed (AWS since 2020, R2, Ceph). Compare-and-swap is a conditional PUT.
 */
export class S3Storage implements Storage {
  readonly remote = true;
  private readonly client: AwsClient;
  private readonly base: string;
  private readonly prefix: string;
  private readonly send: (request: Request, init?: RequestInit) => Promise<Response>;

  constructor(private readonly config: S3Config) {
    const region = config.region || 'us-east-1';
    this.client = new AwsClient({ accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey, sessionToken: config.sessionToken, service: 's3', region, retries: 0 });
    this.base = config.endpoint
      ? `${config.endpoint.replace(/\/+$/, '')}/${encodeURIComponent(config.bucket)}`
      : `https://${config.bucket}.s3.${region}.amazonaws.com`;
    this.prefix = config.prefix ?? '';
    this.send = config.fetch ?? ((request, init) => fetch(request, init));
  }

  /** The bucket, as `s3://` URLs name it. */
  get bucketName(): string {
    return this.config.bucket;
  }

  /** `s3://BUCKET[/PREFIX]` with credentials, region and endpoint from the standard variables. */
  static fromUrl(url: string, env: S3Env): S3Storage {
    return new S3Storage(s3Config(url, env));
  }

  async get(key: string, range?: ByteRange): Promise<StoredObject | null> {
    checkKey(key);
    // S3 answers 416 to a range of no bytes; the other backends answer an empty body.
    if (range?.length === 0) return this.emptyRange(key, range.offset);
    const headers = range ? { range: `bytes=${range.offset}-${range.length === undefined ? '' : range.offset + range.length - 1}` } : undefined;
    const res = await this.call('GET', { key, headers });
    if (res.status === 404) return drained(res, null);
    if (res.status === 416 && range) return drained(res, await this.emptyRange(key, range.offset));
    if (!res.ok) throw await s3Error(res, 'GET', key);
    const contentRange = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
    const size = contentRange ? Number(contentRange[3]) : Number(res.headers.get('content-length'));
    const returned = contentRange ? { offset: Number(contentRange[1]), length: Number(contentRange[2]) - Number(contentRange[1]) + 1 } : undefined;
    return { ...this.info(key, res, size), body: res.body ?? streamOf(new Uint8Array(0)), range: returned };
  }

  private async emptyRange(key: string, offset: number): Promise<StoredObject | null> {
    const current = await this.head(key);
    return current && { ...current, body: streamOf(new Uint8Array(0)), range: { offset, length: 0 } };
  }

  async head(key: string): Promise<ObjectInfo | null> {
    checkKey(key);
    const res = await this.call('HEAD', { key });
    if (res.status === 404) return null;
    if (!res.ok) throw await s3Error(res, 'HEAD', key);
    return this.info(key, res, Number(res.headers.get('content-length')));
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<ObjectInfo | null> {
    checkKey(key);
    // Every S3 write is atomic, so `fresh` changes nothing. Ceph compares If-Match with the
    // stored ETag without its quotes (a quoted one never matches); AWS takes it bare too.
    const conditions: Record<string, string> = {};
    if (options.ifMatch !== undefined) conditions['if-match'] = options.ifMatch;
    else if (options.ifNoneMatch === '*') conditions['if-none-match'] = '*';
    const type: Record<string, string> = options.contentType ? { 'content-type': options.contentType } : {};
    if (typeof body === 'string' || body instanceof Uint8Array) return this.putBytes(key, toBytesSync(body), conditions, type);
    return this.putStream(key, body, conditions, type);
  }

  /** One PUT; null when its condition failed. */
  private async putBytes(key: string, bytes: Uint8Array, conditions: Record<string, string>, type: Record<string, string> = {}): Promise<ObjectInfo | null> {
    const conditional = Object.keys(conditions).length > 0;
    const res = await this.call('PUT', { key, headers: { ...conditions, ...type }, body: bytes, once: conditional });
    // 412: the condition failed. 409: a concurrent conflicting write (AWS). A 5xx: Ceph's answer
    // to a lost race. All mean "re-read and try again" to a compare-and-swap.
    if (conditional && (res.status === 412 || res.status === 409 || res.status >= 500)) return drained(res, null);
    if (!res.ok) throw await s3Error(res, 'PUT', key);
    await res.body?.cancel();
    return this.info(key, res, bytes.length, res.headers.get('date'));
  }

  private putStream(key: string, body: ReadableStream<Uint8Array>, conditions: Record<string, string>, type: Record<string, string>): Promise<ObjectInfo | null> {
    return putInParts<string, PartInfo>(body, {
      single: (bytes) => this.putBytes(key, bytes, conditions, type),
      start: () => {
        // A multipart complete takes no precondition here: no atomic compare-and-swap.
        if (Object.keys(conditions).length) throw new Error(`conditional writes to S3 take at most ${STREAM_PART} bytes (${key})`);
        return this.createMultipart(key, type['content-type']);
      },
      part: (uploadId, n, bytes) => this.putPart(key, uploadId, n, bytes, bytes.length),
      complete: (uploadId, parts) => this.completeMultipart(key, uploadId, parts),
      abort: (uploadId) => this.abortMultipart(key, uploadId),
    });
  }

  /** A copy onto itself with new metadata: a new modification time, no bytes sent. */
  async touch(key: string): Promise<ObjectInfo | null> {
    checkKey(key);
    const source = `/${this.config.bucket}/${this.encoded(key)}`;
    const res = await this.call('PUT', { key, headers: { 'x-amz-copy-source': source, 'x-amz-metadata-directive': 'REPLACE' } });
    if (res.status === 404) return drained(res, null);
    const text = await res.text();
    // A copy may fail after its 200 (the error is then in the body); an object over 5 GiB cannot
    // be copied in one request: it is written again from itself.
    if (res.status === 400 || (res.ok && /<Error>/.test(text))) return rewrite(this, key);
    if (!res.ok) throw s3ErrorOf(res.status, text, 'PUT (copy)', key);
    return this.head(key);
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    const res = await this.call('DELETE', { key });
    if (!res.ok && res.status !== 404) throw await s3Error(res, 'DELETE', key);
    await res.body?.cancel();
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    for await (const page of this.pages(prefix)) for (const obj of page.objects) yield { ...obj, key: obj.key.slice(this.prefix.length) };
  }

  async *listFolders(prefix: string): AsyncIterable<string> {
    // Each common prefix is the store's prefix, `prefix`, a name and the slash after it.
    const skip = this.prefix.length + prefix.length;
    for await (const page of this.pages(prefix, '/')) for (const folder of page.prefixes) yield folder.slice(skip, -1);
  }

  private async *pages(prefix: string, delimiter?: string) {
    let token: string | undefined;
    do {
      const query: Record<string, string> = { 'list-type': '2', prefix: this.prefix + prefix };
      if (delimiter) query.delimiter = delimiter;
      if (this.config.maxKeys) query['max-keys'] = String(this.config.maxKeys);
      if (token) query['continuation-token'] = token;
      const res = await this.call('GET', { query });
      if (!res.ok) throw await s3Error(res, 'LIST', prefix);
      const page = parseList(await res.text());
      yield page;
      token = page.next;
    } while (token);
  }

  /** ListMultipartUploads under the store's prefix, page by page (`maxKeys` sets the page size too). */
  async *incompleteWrites(prefix: string, before: Date): AsyncIterable<IncompleteWrite> {
    let next: { keyMarker: string; uploadIdMarker: string } | undefined;
    do {
      const query: Record<string, string> = { uploads: '', prefix: this.prefix + prefix };
      if (this.config.maxKeys) query['max-uploads'] = String(this.config.maxKeys);
      if (next) Object.assign(query, { 'key-marker': next.keyMarker, 'upload-id-marker': next.uploadIdMarker });
      const res = await this.call('GET', { query });
      if (!res.ok) throw await s3Error(res, 'ListMultipartUploads', prefix);
      const page = parseUploads(await res.text());
      for (const upload of page.uploads) {
        if (upload.initiated < before) yield { key: upload.key.slice(this.prefix.length), uploadId: upload.uploadId, started: upload.initiated };
      }
      next = page.next;
    } while (next);
  }

  async createMultipart(key: string, contentType?: string): Promise<string> {
    checkKey(key);
    const res = await this.call('POST', { key, query: { uploads: '' }, headers: contentType ? { 'content-type': contentType } : undefined });
    if (!res.ok) throw await s3Error(res, 'CreateMultipartUpload', key);
    const id = tag(await res.text(), 'UploadId');
    if (!id) throw new Error(`S3 CreateMultipartUpload of ${key} answered no UploadId`);
    return id;
  }

  /**
   * A stream is sent as it comes, with its length (through a FixedLengthStream in workerd), so
   * memory stays flat however big the part. A body of other than `size` bytes fails with
   * part-size-mismatch.
   */
  async putPart(key: string, uploadId: string, part: number, body: ReadableStream<Uint8Array> | Uint8Array, size: number): Promise<PartInfo> {
    checkKey(key);
    if (!Number.isSafeInteger(part) || part < 1 || part > 10_000) throw new PackyardError(400, 'bad-part-number', `part numbers go from 1 to 10000, not ${part}`);
    const { value, check } = await partBody(part, body, size, { sendsLength: true });
    // A stream of the wrong size fails the request (or S3 refuses it); say why.
    const headers = { 'content-length': String(size) };
    const res = await this.call('PUT', { key, query: { partNumber: String(part), uploadId }, headers, body: value, once: !(value instanceof Uint8Array) }).catch((err) => Promise.reject(check?.error ?? err));
    if (check?.error) throw await drained(res, check.error);
    if (res.status === 404) throw await drained(res, new PackyardError(404, 'upload-not-found', `no upload ${uploadId}`));
    if (!res.ok) throw await s3Error(res, 'UploadPart', key);
    await res.body?.cancel();
    return { part, etag: unquote(res.headers.get('etag') ?? ''), size };
  }

  /** Completing again (a caller that crashed before it heard) finds the object: S3 then no longer knows the upload. */
  async completeMultipart(key: string, uploadId: string, parts: PartInfo[]): Promise<ObjectInfo> {
    checkKey(key);
    const completed = await completedBefore(this, key, uploadId, parts);
    if (completed) return completed;
    const list = [...parts]
      .sort((a, b) => a.part - b.part)
      .map((p) => `<Part><PartNumber>${p.part}</PartNumber><ETag>"${escapeXml(p.etag)}"</ETag></Part>`)
      .join('');
    const res = await this.call('POST', { key, query: { uploadId }, body: `<CompleteMultipartUpload>${list}</CompleteMultipartUpload>` });
    const text = await res.text();
    // An error may come after a 200, in the body: the join takes a while and the answer started.
    const code = res.ok && !/<Error>/.test(text) ? undefined : (tag(text, 'Code') ?? String(res.status));
    if (code === 'InvalidPart' || code === 'InvalidPartOrder' || code === 'EntityTooSmall') throw new PackyardError(400, 'part-missing', `a part of upload ${uploadId} is missing or was replaced (${code})`);
    if (code === 'NoSuchUpload') throw new PackyardError(404, 'upload-not-found', `no upload ${uploadId}`);
    if (code) throw s3ErrorOf(res.status, text, 'CompleteMultipartUpload', key);
    const info = await this.head(key);
    if (!info) throw new Error(`S3 completed upload ${uploadId} but ${key} is not there`);
    return info;
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    checkKey(key);
    const res = await this.call('DELETE', { key, query: { uploadId } });
    if (!res.ok && res.status !== 404) throw await s3Error(res, 'AbortMultipartUpload', key);
    await res.body?.cancel();
  }

  /**
   * A URL that GETs the object without credentials for `seconds` (a query-signed request), so a
   * host can send a client to the bucket instead of passing the bytes through itself.
   */
  async presignedGet(key: string, seconds: number): Promise<string> {
    checkKey(key);
    const url = new URL(`${this.base}/${this.encoded(key)}`);
    url.searchParams.set('X-Amz-Expires', String(seconds));
    return (await this.client.sign(url.toString(), { method: 'GET', aws: { signQuery: true } })).url;
  }

  /** The address of the bucket and prefix, unsigned: where anonymous readers find a public bucket's objects. */
  get url(): string {
    return `${this.base}/${this.prefix.split('/').map(encodeURIComponent).join('/')}`;
  }

  private encoded(key: string): string {
    return (this.prefix + key).split('/').map(encodeURIComponent).join('/');
  }

  private async call(method: string, { key, query, headers, body, once }: Call): Promise<Response> {
    const url = new URL(key === undefined ? `${this.base}/` : `${this.base}/${this.encoded(key)}`);
    for (const [name, value] of Object.entries(query ?? {})) url.searchParams.set(name, value);
    for (let attempt = 1; ; attempt++) {
      const streamed = body instanceof ReadableStream;
      const init = { method, headers, body: body as BodyInit | undefined, ...(streamed ? STREAMED.request : {}) };
      const request = await this.client.sign(url.toString(), init);
      const res = await this.send(request, streamed ? STREAMED.fetch : undefined);
      if (once || attempt >= TRIES || (res.status !== 500 && res.status !== 503)) return res;
      await res.body?.cancel();
      await new Promise((r) => setTimeout(r, 50 * 2 ** attempt * Math.random()));
    }
  }

  private info(key: string, res: Response, size: number, date?: string | null): ObjectInfo {
    // A PUT's answer has no Last-Modified; its Date is the write's time to the same second.
    const when = res.headers.get('last-modified') ?? date;
    return { key, size, etag: unquote(res.headers.get('etag') ?? ''), lastModified: when ? new Date(when) : new Date() };
  }
}

/** The configuration an `s3://BUCKET[/PREFIX]` URL and the standard AWS variables name. */
export function s3Config(url: string, env: S3Env): S3Config {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  if (!match) throw new Error(`not an S3 location: ${url} (want s3://BUCKET[/PREFIX])`);
  const prefix = (match[2] ?? '').replace(/^\/+|\/+$/g, '');
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) throw new Error(`${url} needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`);
  return {
    bucket: match[1]!,
    prefix: prefix && `${prefix}/`,
    endpoint: env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined,
    accessKeyId,
    secretAccessKey,
    sessionToken: env.AWS_SESSION_TOKEN || undefined,
  };
}

function toBytesSync(body: string | Uint8Array): Uint8Array {
  return typeof body === 'string' ? new TextEncoder().encode(body) : body;
}

async function drained<T>(res: Response, value: T): Promise<T> {
  await res.body?.cancel();
  return value;
}

/** The same keys the directory backend takes, so that a store can move between backends. */
function checkKey(key: string): void {
  if (!key || key.split('/').some((part) => part === '' || part === '.' || part === '..')) throw new Error(`invalid storage key: ${key}`);
}

async function s3Error(res: Response, op: string, key: string): Promise<Error> {
  return s3ErrorOf(res.status, await res.text().catch(() => ''), op, key);
}

function s3ErrorOf(status: number, text: string, op: string, key: string): Error {
  return new Error(`S3 ${op} ${key}: ${status} ${tag(text, 'Code') ?? ''} ${tag(text, 'Message') ?? ''}`.trim());
}
