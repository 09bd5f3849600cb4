// Which requests the Worker sends to a repository's Durable Object, and under which name.
import { describe, expect, it } from 'vitest';
import { publishedRepo } from '../../../src/hosts/worker/published-repo.js';

describe('the repository a request publishes to', () => {
  it('is named as the app decodes it; reads, upload parts and names that do not decode stay in the Worker', () => {
    const route = (method: string, path: string) => publishedRepo(new Request(`https://x${path}`, { method }));
    // Undecoded, `def%61ult` went to an Object of its own and published beside default's.
    expect(route('POST', '/api/v1/repos/def%61ult/packages')).toBe('default');
    expect(route('DELETE', '/api/v1/repos/acme')).toBe('acme');
    expect(route('DELETE', '/api/v1/repos/acme/distributions/testing')).toBe('acme');
    expect(route('GET', '/api/v1/repos/acme')).toBeNull();
    expect(route('PUT', '/api/v1/repos/acme/uploads/abc/parts/1')).toBeNull();
    expect(route('POST', '/api/v1/repos/%E0%A4%A/packages')).toBeNull();
    expect(route('POST', '/api/v1/repos/Not%20A%20Name/packages')).toBeNull();
  });
});
