import { describe, expect, it } from 'vitest';
import { allows, credentialOf } from '../../src/auth/identity.js';
import { Throttle } from '../../src/auth/throttle.js';

describe('credentials and scopes', () => {
  it('reads Bearer tokens and Basic passwords (any login), and nothing else', () => {
    expect(credentialOf('Bearer abc')).toBe('abc');
    expect(credentialOf('bearer abc ')).toBe('abc');
    expect(credentialOf(`Basic ${btoa('apt:pyt_x')}`)).toBe('pyt_x');
    expect(credentialOf(`Basic ${btoa('oidc:a.b.c')}`)).toBe('a.b.c');
    expect(credentialOf(`Basic ${btoa('password:with:colons')}`)).toBe('with:colons');
    for (const bad of [undefined, '', 'Token abc', 'Bearer', `Basic ${btoa('nocolon')}`, `Basic ${btoa('apt:')}`, 'Basic !!!']) expect(credentialOf(bad), String(bad)).toBeUndefined();
  });

  it('lets admin imply write, and write imply read, per repository', () => {
    const id = (repos: Record<string, ('read' | 'write' | 'admin')[]>, admin = false) => ({ actor: 't', admin, repos });
    expect(allows(id({ a: ['read'] }), 'a', 'read')).toBe(true);
    expect(allows(id({ a: ['read'] }), 'a', 'write')).toBe(false);
    expect(allows(id({ a: ['write'] }), 'a', 'read')).toBe(true);
    expect(allows(id({ a: ['write'] }), 'a', 'admin')).toBe(false);
    expect(allows(id({ a: ['admin'] }), 'a', 'write')).toBe(true);
    expect(allows(id({ a: ['admin'] }), 'b', 'read')).toBe(false);
    expect(allows(id({}, true), 'b', 'admin')).toBe(true);
  });
});

describe('Throttle', () => {
  it('blocks an address after 20 failures in a minute, lets recently good credentials through, and forgets', () => {
    let now = 0;
    const throttle = new Throttle({ now: () => now });
    throttle.succeeded('good');
    for (let i = 0; i < 19; i++) throttle.failed('10.0.0.1', true);
    expect(throttle.retryAfter('10.0.0.1', 'guess')).toBe(0);
    throttle.failed('10.0.0.1', true);
    expect(throttle.retryAfter('10.0.0.1', 'guess')).toBe(300);
    expect(throttle.retryAfter('10.0.0.1', 'good')).toBe(0);
    expect(throttle.retryAfter('10.0.0.2', 'guess')).toBe(0);
    now += 300_001;
    expect(throttle.retryAfter('10.0.0.1', 'guess')).toBe(0);
    // Failures spread out over more than the window never block.
    for (let i = 0; i < 40; i++) {
      now += 4_000;
      throttle.failed('10.0.0.3', true);
    }
    expect(throttle.retryAfter('10.0.0.3', 'guess')).toBe(0);
  });
});
