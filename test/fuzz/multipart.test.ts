// Fuzzing the streaming multipart/form-data parser. Bodies are generated part by part, with
// bodies full of near-delimiters (CRLF, "--", boundary prefixes), and fed in random chunk splits:
// intact, every part must come back exactly as sent; mutated (bytes changed, header lines added,
// boundary lines and limits changed), the parser must yield parts or fail with a 400 PackyardError,
// in bounded time, whichever way the consumer reads, cancels or skips the bodies.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { boundaryOf, parseMultipart, type MultipartLimits } from '../../src/util/multipart.js';
import { concat } from '../helpers/bytes.js';
import { chunkSplits, chunksOf, fuzzRuns, mutateAll, mutation, refusal } from '../helpers/fuzz.js';

const enc = new TextEncoder();
const BCHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'()+_,-./:=?";

interface Part {
  name: string;
  filename?: string;
  contentType?: string;
  body: Uint8Array;
}

/** An RFC 2046 boundary: 1 to 70 bchars, spaces allowed but not last. */
function boundary(): fc.Arbitrary<string> {
  const char = fc.constantFrom(...BCHARS);
  return fc
    .tuple(fc.array(fc.oneof({ weight: 9, arbitrary: char }, { weight: 1, arbitrary: fc.constant(' ') }), { maxLength: 69 }), char)
    .map(([head, last]) => head.join('') + last);
}

/** Body bytes made of pieces that look like the start of a delimiter. */
function bodyBytes(b: string): fc.Arbitrary<Uint8Array> {
  const piece = fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    fc.constantFrom('\r', '\n', '\r\n', '--', '\r\n-', '\r\n--', `--${b}`, `\r\n--${b.slice(0, -1)}`, `\r\n--${b}`.slice(0, 3), '\r\n\r\n').map((s) => enc.encode(s)),
    fc.nat({ max: b.length }).map((n) => enc.encode(`\r\n--${b.slice(0, n)}`)),
  );
  return fc.array(piece, { maxLength: 12 }).map((pieces) => concat(...pieces));
}

const word = fc.stringMatching(/^[A-Za-z0-9 ._-]{1,20}$/);

function parts(b: string): fc.Arbitrary<Part[]> {
  const part = fc.record(
    { name: word, filename: word, contentType: fc.constantFrom('application/vnd.debian.binary-package', 'application/x-rpm', 'text/plain; charset=utf-8'), body: bodyBytes(b) },
    { requiredKeys: ['name', 'body'] },
  );
  return fc.array(part, { maxLength: 5 });
}

function headerLines(p: Part): string[] {
  const filename = p.filename === undefined ? '' : `; filename="${p.filename}"`;
  return [`Content-Disposition: form-data; name="${p.name}"${filename}`, ...(p.contentType ? [`Content-Type: ${p.contentType}`] : [])];
}

/** The encoded body, with extra header lines (by part index) and a preamble and epilogue. */
function encode(b: string, list: readonly Part[], extra: ReadonlyMap<number, string[]> = new Map(), preamble = '', epilogue = ''): Uint8Array {
  const out: (string | Uint8Array)[] = [preamble];
  list.forEach((p, i) => {
    out.push(`${i === 0 && !preamble ? '' : '\r\n'}--${b}\r\n`, [...headerLines(p), ...(extra.get(i) ?? [])].join('\r\n'), '\r\n\r\n', p.body);
  });
  out.push(`${list.length === 0 && !preamble ? '' : '\r\n'}--${b}--${epilogue}`);
  return concat(...out);
}

/** A source stream of copies of the chunks: the parser must not rely on one buffer behind them. */
function source(chunks: readonly Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]!.slice());
      else controller.close();
    },
  });
}

type Reading = 'read' | 'cancel' | 'skip';

/** Parses `body`, reading each part as `readings` says (cycled); returns the parts read. */
async function parse(body: Uint8Array, b: string, splits: readonly number[], readings: readonly Reading[] = ['read'], limits?: MultipartLimits): Promise<Part[]> {
  const got: Part[] = [];
  let k = 0;
  for await (const part of parseMultipart(source(chunksOf(body, splits)), b, limits)) {
    const reading = readings[k++ % readings.length]!;
    const { body: stream, ...headers } = part;
    if (reading === 'read') got.push({ ...headers, body: new Uint8Array(await new Response(stream).arrayBuffer()) });
    if (reading === 'cancel') await stream.cancel();
  }
  return got;
}

describe('parseMultipart', () => {
  test('intact bodies: every part as sent, in any chunks', async () => {
    await fc.assert(
      fc.asyncProperty(
        boundary().chain((b) => fc.tuple(fc.constant(b), parts(b))),
        chunkSplits(),
        async ([b, list], splits) => {
          const body = encode(b, list);
          // A body holding a whole delimiter is another body; the generator only comes close.
          fc.pre(list.every((p) => !Buffer.from(concat(p.body, '\r\n')).includes(`\r\n--${b}`)));
          expect(boundaryOf(`multipart/form-data; boundary="${b}"`)).toBe(b);
          let got: Part[] = [];
          const err = await refusal('parseMultipart (intact)', async () => {
            got = await parse(body, b, splits);
          });
          expect(err).toBeUndefined();
          expect(got).toEqual(list.map((p) => ({ ...p, body: p.body })));
        },
      ),
      fuzzRuns(400, 1500),
    );
  });

  test('mutated bodies, header lines and limits: parts or a 400, however the bodies are consumed', async () => {
    const headerLine = fc.oneof(
      fc.constantFrom(
        'Content-Disposition: form-data; name="again"',
        'Content-Disposition: attachment; name="x"',
        'Content-Type: a',
        'X: y',
        ' folded',
        '\tfolded',
        'no colon',
        ': empty name',
        'Content-Disposition: form-data; name=unquoted; filename*=UTF-8\'\'%E2%82%AC.deb',
        "Content-Disposition: form-data; filename*=ISO-8859-1''%FF; name=\"n\"",
        'Content-Disposition: form-data; name="a"; name="b"',
        'Content-Disposition: form-data; name="unterminated',
        'Content-Disposition: form-data; name="a\\"b\\\\"; filename="C:\\dir\\f.deb"',
        'content-disposition: FORM-DATA ; NAME = "x" ;',
        'x'.repeat(9000),
      ),
      fc.string({ maxLength: 30 }),
    );
    await fc.assert(
      fc.asyncProperty(
        boundary().chain((b) => fc.tuple(fc.constant(b), parts(b))),
        fc.array(fc.tuple(fc.nat({ max: 4 }), headerLine), { maxLength: 3 }),
        fc.constantFrom('', 'preamble\r\n', '\r\n', `--`, '\r\n\r\n'),
        fc.constantFrom('', '\r\n', 'epilogue', '  \r\n'),
        fc.array(mutation(), { maxLength: 4 }),
        chunkSplits(),
        fc.array(fc.constantFrom<Reading>('read', 'cancel', 'skip'), { minLength: 1, maxLength: 4 }),
        fc.option(fc.record({ maxParts: fc.nat({ max: 6 }), maxHeaderBytes: fc.integer({ min: 1, max: 400 }) }, { requiredKeys: [] }), { nil: undefined }),
        async ([b, list], lines, preamble, epilogue, edits, splits, readings, limits) => {
          const extra = new Map<number, string[]>();
          for (const [i, line] of lines) extra.set(i, [...(extra.get(i) ?? []), line]);
          const body = mutateAll(encode(b, list, extra, preamble, epilogue), edits);
          const err = await refusal('parseMultipart', () => parse(body, b, splits, readings, limits));
          if (err) expect(err.status).toBe(400);
        },
      ),
      fuzzRuns(800, 1500),
    );
  });

  test('boundaryOf on mutated Content-Type headers: a valid boundary or null', async () => {
    const header = fc.oneof(
      boundary().map((b) => `multipart/form-data; boundary="${b}"`),
      boundary().map((b) => `multipart/form-data; boundary=${b}`),
      fc.string({ maxLength: 80 }),
    );
    await fc.assert(
      fc.asyncProperty(header, fc.array(mutation(), { maxLength: 3 }), async (h, edits) => {
        const mutated = new TextDecoder().decode(mutateAll(enc.encode(h), edits));
        let b: string | null = null;
        expect(await refusal('boundaryOf', () => (b = boundaryOf(mutated)))).toBeUndefined();
        if (b !== null) expect(b).toMatch(/^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/);
      }),
      fuzzRuns(1500, 800),
    );
  });
});
