// The control-file limits against the real apt: packages just inside each limit are published by
// `packyard serve` and read whole by apt-get update (signature checking on); one byte or one field
// more is refused with a 422 naming the limit. apt 2.6 itself fails the whole index on a stanza
// over about 1 MiB and aborts on a name or version of 64 KiB, so these limits keep one package
// from breaking apt for everyone.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MAX_ARCHITECTURE_BYTES, MAX_CONTROL_BYTES, MAX_CONTROL_FIELDS, MAX_NAME_BYTES } from '../../../src/formats/deb/control.js';
import { controlOfSize, controlWithFields, debWithControl } from '../../fixtures/malformed-debs.js';
import { aptRoot, type AptRoot } from '../../helpers/chroot.js';
import { buildDeb } from '../../helpers/debs.js';
import { ApiError, api, aptLine, startServer, type RunningServer } from '../../helpers/server.js';

let server: RunningServer;
let apt: AptRoot;
let dir: string;

const control = (name: string) => `Package: ${name}\nVersion: 1.0\nArchitecture: all\nMaintainer: T <t@example.org>\nDescription: limits\n`;
/** Relationship fields that dpkg-deb builds (some with warnings) and apt reads: they must pass. */
const ODD_RELATIONS = {
  Depends: 'Foo, f, foo_bar, foo:AMD, foo (1.0), foo (< 1.0), foo(>=1.0),\n foo:any (>= 1:2.0-1~rc1) | bar:native',
  Provides: 'a (= 1.0), b',
  Enhances: 'a | b',
  Suggests: '',
};

/** A name, a version, a section and relationship parts just at their length limits. */
const LONG_NAME = `l${'n'.repeat(MAX_NAME_BYTES - 1)}`;
const LONG_VERSION = `1:${'2'.repeat(MAX_NAME_BYTES - 4)}-1`;
const AT_LENGTH_LIMITS = {
  Section: `s${'e'.repeat(MAX_NAME_BYTES - 1)}`,
  Depends: `d${'n'.repeat(MAX_NAME_BYTES - 1)}:a${'r'.repeat(MAX_ARCHITECTURE_BYTES - 1)} (>= ${LONG_VERSION})`,
};

async function file(name: string, text: string): Promise<string> {
  const at = path.join(dir, `${name}.deb`);
  await writeFile(at, await debWithControl(text));
  return at;
}

async function refusal(name: string, text: string): Promise<ApiError> {
  const err = await api(server.url, server.token).upload('limits', 'stable', 'main', [await file(name, text)]).catch((e: unknown) => e);
  if (!(err instanceof ApiError)) throw new Error(`${name}: expected a refusal, got ${JSON.stringify(err)}`);
  return err;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'packyard-limits-'));
  [server, apt] = await Promise.all([startServer(), aptRoot()]);
  await api(server.url, server.token).createRepo('limits');
}, 120_000);

afterAll(async () => {
  await apt?.dispose();
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('control-file limits', () => {
  test('packages just inside each limit are published, and apt-get update reads them whole', async () => {
    const client = api(server.url, server.token);
    const atSize = controlOfSize(MAX_CONTROL_BYTES, control('at-size-limit'));
    expect(new TextEncoder().encode(atSize).length).toBe(MAX_CONTROL_BYTES);
    const files = [
      await file('at-size-limit', atSize),
      await file('at-field-limit', controlWithFields(MAX_CONTROL_FIELDS, control('at-field-limit'))),
      (await buildDeb({ name: 'odd-relations', version: '1.0', fields: ODD_RELATIONS }, dir)).path,
      (await buildDeb({ name: LONG_NAME, version: LONG_VERSION, fields: AT_LENGTH_LIMITS }, dir)).path,
    ];
    await client.upload('limits', 'stable', 'main', files);

    await apt.configure({ sourcesLine: aptLine(server.url, 'limits', 'stable', 'main'), keyringBytes: await client.publicKey('limits') });
    const update = await apt.update();
    expect(update.code, update.stdout + update.stderr).toBe(0);
    expect(update.stdout + update.stderr).not.toMatch(/^[EW]:/m);

    const show = async (pkg: string) => {
      const r = await apt.aptCache(['show', pkg]);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout;
    };
    const padding = /^X-Padding: (p+)$/m.exec(await show('at-size-limit'))?.[1];
    expect(padding).toBe(/^X-Padding: (p+)$/m.exec(atSize)![1]);
    expect((await show('at-field-limit')).match(/^X-Field-\d+:/gm)).toHaveLength(MAX_CONTROL_FIELDS - 5);
    const long = await show(LONG_NAME);
    expect(long).toContain(`Version: ${LONG_VERSION}\n`);
    expect(long).toContain(`Section: ${AT_LENGTH_LIMITS.Section}\n`);
    expect(long).toContain(`Depends: ${AT_LENGTH_LIMITS.Depends}\n`);
    const depends = await apt.aptCache(['depends', 'odd-relations']);
    // apt read every relation: nine alternatives, the last two as one `|` group.
    expect(depends.stdout.match(/^ [ |]Depends: </gm)).toHaveLength(9);
    expect(depends.stdout).toMatch(/^ \|Depends: <foo:any>\n {2}Depends: <bar:amd64>$/m);
  });

  test('one byte or one field more is refused with a 422 naming the limit', async () => {
    const big = await refusal('over-size-limit', controlOfSize(MAX_CONTROL_BYTES + 1, control('over-size-limit')));
    expect(big.status).toBe(422);
    expect(JSON.parse(big.body)).toEqual({
      error: { code: 'control-file-too-large', message: expect.stringContaining(`${MAX_CONTROL_BYTES + 1} bytes, over the limit of ${MAX_CONTROL_BYTES}`) },
    });
    const many = await refusal('over-field-limit', controlWithFields(MAX_CONTROL_FIELDS + 1, control('over-field-limit')));
    expect(many.status).toBe(422);
    expect(JSON.parse(many.body)).toEqual({ error: { code: 'too-many-fields', message: expect.stringContaining(`more than ${MAX_CONTROL_FIELDS} fields`) } });
    const name = await refusal('over-name-limit', control(`o${'n'.repeat(MAX_NAME_BYTES)}`));
    expect(JSON.parse(name.body)).toEqual({
      error: { code: 'value-too-long', message: expect.stringContaining(`package name of ${MAX_NAME_BYTES + 1} bytes, over the limit of ${MAX_NAME_BYTES}`) },
    });
    const relation = await refusal('bad-relation', `${control('bad-relation')}Depends: foo (\n`);
    expect(JSON.parse(relation.body)).toEqual({ error: { code: 'bad-relation', message: expect.stringContaining('"Depends"') } });
  });
});
