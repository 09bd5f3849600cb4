// The few S3 XML answers the backend reads (listings, multipart, errors). S3's XML is flat and
// regular, and neither Workers nor Node has a DOMParser, so a tag reader is enough.

/** The text of every `<tag>…</tag>` in `xml`, entities decoded. */
export function tags(xml: string, tag: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g');
  for (let m; (m = re.exec(xml)); ) out.push(m[1]!);
  return out;
}

/** The first `<tag>`'s text, decoded; undefined when there is none. */
export function tag(xml: string, name: string): string | undefined {
  const found = tags(xml, name)[0];
  return found === undefined ? undefined : unescapeXml(found);
}

export function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[e.toLowerCase()]!;
  });
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

export interface ListedObject {
  key: string;
  size: number;
  etag: string;
  lastModified: Date;
}

export interface ListPage {
  objects: ListedObject[];
  prefixes: string[];
  next?: string;
}

/** A ListObjectsV2 answer. */
export function parseList(xml: string): ListPage {
  const objects = tags(xml, 'Contents').map((c) => ({
    key: tag(c, 'Key') ?? '',
    size: Number(tag(c, 'Size') ?? 0),
    etag: unquote(tag(c, 'ETag') ?? ''),
    lastModified: new Date(tag(c, 'LastModified') ?? 0),
  }));
  const prefixes = tags(xml, 'CommonPrefixes').map((p) => tag(p, 'Prefix') ?? '');
  const truncated = tag(xml, 'IsTruncated') === 'true';
  return { objects, prefixes, next: truncated ? tag(xml, 'NextContinuationToken') : undefined };
}

/** S3 quotes ETags; the Storage interface's etags are bare (and Ceph's If-Match wants them so). */
export function unquote(etag: string): string {
  return etag.replace(/^(W\/)?"(.*)"$/, '$2');
}

export interface ListedUpload {
  key: string;
  uploadId: string;
  initiated: Date;
}

export interface UploadsPage {
  uploads: ListedUpload[];
  /** The markers of the next page, when there is one. */
  next?: { keyMarker: string; uploadIdMarker: string };
}

/** A ListMultipartUploads answer. */
export function parseUploads(xml: string): UploadsPage {
  const uploads = tags(xml, 'Upload').map((u) => ({ key: tag(u, 'Key') ?? '', uploadId: tag(u, 'UploadId') ?? '', initiated: new Date(tag(u, 'Initiated') ?? 0) }));
  const truncated = tag(xml, 'IsTruncated') === 'true';
  return { uploads, next: truncated ? { keyMarker: tag(xml, 'NextKeyMarker') ?? '', uploadIdMarker: tag(xml, 'NextUploadIdMarker') ?? '' } : undefined };
}
