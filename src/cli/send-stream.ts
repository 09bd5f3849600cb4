import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Sends a streamed request body with node:http. Node 20's fetch keeps a streamed body in memory
 * as it sends it (a 1 GiB upload grows the client by 1 GiB); this streams in constant memory.
 */
export async function sendStream(url: URL, method: string, headers: Record<string, string>, body: ReadableStream<Uint8Array>): Promise<Response> {
  const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method, headers });
  const responded = new Promise<IncomingMessage>((resolve, reject) => {
    request.once('response', resolve);
    request.once('error', reject);
  });
  // The server may answer (an error) before it has read the whole body; its answer wins.
  const sending = pipeline(Readable.fromWeb(body as import('node:stream/web').ReadableStream<Uint8Array>), request).then(
    () => undefined,
    (err: unknown) => err,
  );
  const response = await responded;
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  const failed = await sending;
  if (failed && (response.statusCode ?? 500) < 400) throw failed;
  const responseHeaders = new Headers();
  for (const [name, value] of Object.entries(response.headers)) if (typeof value === 'string') responseHeaders.set(name, value);
  return new Response(Buffer.concat(chunks), { status: response.statusCode, headers: responseHeaders });
}
