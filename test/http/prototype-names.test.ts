// Names users choose that are also properties every object inherits (constructor, toString,
// valueOf): a repository, a distribution or a component by such a name is one like any other.
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDeb } from '../helpers/debs.js';
import { testApp } from '../helpers/app.js';

let deb: Uint8Array;
beforeAll(async () => {
  deb = new Uint8Array(await readFile((await buildDeb({ name: 'hello', version: '1.0', arch: 'amd64' }, await mkdtemp(join(tmpdir(), 'packyard-proto-')))).path));
});

describe('names that objects inherit', () => {
  it('are repositories, distributions and components, and scope tokens, like any other', async () => {
    const t = await testApp();
    const json = (body: unknown) => ({ method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    expect((await t.request('/api/v1/repos', json({ name: 'constructor', type: 'deb' }))).status).toBe(201);
    expect((await t.request('/api/v1/repos', json({ name: 'acme', type: 'deb', distributions: { toString: { components: ['valueof'] } } }))).status).toBe(201);

    // A token scoped to another repository is refused here (it was a 500: `scopes.includes is not a function`).
    const created = await t.request('/api/v1/tokens', json({ name: 'fleet', repos: { acme: ['read'] } }));
    expect(created.status).toBe(201);
    const { token } = (await created.json()) as { token: string };
    for (const path of ['/api/v1/repos/constructor', '/constructor/dists/stable/InRelease', '/api/v1/repos/constructor/packages']) {
      const res = await t.request(path, { token });
      expect(`${path} ${res.status}`).toBe(`${path} 403`);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBeTruthy();
    }

    for (const [distribution, component] of [['constructor', 'constructor'], ['toString', 'valueof'], ['hasOwnProperty', 'main']]) {
      const post = (create: boolean) => {
        const form = new FormData();
        form.append('file', new Blob([deb as Uint8Array<ArrayBuffer>]), 'hello.deb');
        return t.request(`/api/v1/repos/acme/packages?distribution=${distribution}&component=${component}${create ? '&createDistribution=true' : ''}`, { method: 'POST', body: form });
      };
      // A distribution the repository does not have is not found under an inherited name either.
      const declared = distribution === 'toString';
      if (!declared) expect((await post(false)).status).toBe(404);
      const res = await post(!declared);
      expect(`${distribution}/${component} ${res.status}`).toBe(`${distribution}/${component} 201`);
      const packages = await t.request(`/acme/dists/${distribution}/${component}/binary-amd64/Packages`, { token });
      expect(packages.status).toBe(200);
      expect(await packages.text()).toMatch(/^Package: hello$/m);
      const release = await (await t.request(`/acme/dists/${distribution}/Release`, { token })).text();
      expect(release).toMatch(new RegExp(`^Components: .*\\b${component}\\b`, 'm'));
    }
    const removed = await t.request('/api/v1/repos/acme/packages/hello/1.0/amd64?distribution=constructor', { method: 'DELETE' });
    expect(removed.status).toBe(200);
    expect((await t.request('/acme/dists/constructor/constructor/binary-amd64/Packages', { token })).status).toBe(200);
    const { repo } = (await (await t.request('/api/v1/repos/acme', { token })).json()) as { repo: { distributions: Record<string, { components: string[] }> } };
    expect(Object.keys(repo.distributions).sort()).toEqual(['constructor', 'hasOwnProperty', 'toString']);
    // Nothing was written onto what every object inherits.
    expect(Object.getOwnPropertyNames(Object.prototype).filter((name) => ['main', 'constructor', 'valueof'].includes(name))).toEqual(['constructor']);
    expect(Object.hasOwn(Object, 'constructor') || Object.hasOwn(Object, 'main') || Object.hasOwn(Object, 'valueof')).toBe(false);
  });
});
