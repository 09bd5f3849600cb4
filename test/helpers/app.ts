import { MemoryStorage } from '../../src/storage/memory.js';
import type { Storage } from '../../src/storage/types.js';
import { AdminToken } from '../../src/auth/admin-token.js';
import { Access } from '../../src/auth/access.js';
import { createApp } from '../../src/http/app.js';
import { testService } from './service.js';

export const ADMIN = 'test-admin-token';

/** The whole HTTP app, over memory storage unless given another, called in-process. */
export async function testApp<S extends Storage = MemoryStorage>(now?: () => Date, storage: S = new MemoryStorage() as Storage as S) {
  const service = await testService(storage, now);
  const { admin } = await AdminToken.load(storage, ADMIN);
  const access = new Access(storage, admin);
  // What the app logs, for tests of events it must report.
  const logs: Record<string, unknown>[] = [];
  const app = createApp({ service, access, signer: service.deps.signer, log: (entry) => logs.push(entry) });
  const request = (path: string, init: RequestInit & { token?: string | null } = {}) => {
    const headers = new Headers(init.headers);
    if (init.token !== null) headers.set('authorization', `Bearer ${init.token ?? ADMIN}`);
    return app.request(path, { ...init, headers });
  };
  return { app, storage, service, request, logs };
}
