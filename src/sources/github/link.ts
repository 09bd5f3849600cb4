/**
 * The links of an RFC 8288 `Link` header by relation (`next`, `last`…), resolved against `base`.
 * GitHub's pagination: follow `next` until there is none; never build page URLs.
 */
export function parseLinks(header: string | null, base: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  // <url>; param; param, <url>; ...  (a URL holds no '>'; commas may appear inside it)
  const re = /<([^>]*)>((?:\s*;\s*[^;,<]+)*)/g;
  for (let m = re.exec(header); m; m = re.exec(header)) {
    const params = m[2] ?? '';
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(params);
    if (!rel) continue;
    let url: string;
    try {
      url = new URL(m[1]!, base).toString();
    } catch {
      continue;
    }
    for (const name of (rel[1] ?? rel[2] ?? '').split(/\s+/)) if (name && !(name.toLowerCase() in out)) out[name.toLowerCase()] = url;
  }
  return out;
}
