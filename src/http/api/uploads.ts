import type { Hono } from 'hono';
import type { UploadSession } from '../../core/uploads.js';
import type { PartInfo } from '../../storage/types.js';
import type { ApiContext, Env } from './middleware.js';
import { jsonBody } from './request.js';

/**
 * Resumable uploads: one package file sent in parts (each its own request, so no request
 * carries more than a part), then published by naming it in POST .../packages.
 */
export function uploadRoutes(api: Hono<Env>, { service, needs }: ApiContext): void {
  api.post('/repos/:repo/uploads', needs('write'), async (c) => {
    const session = await service.startUpload(c.req.param('repo'), await jsonBody(c), c.get('actor'));
    return c.json({ upload: uploadInfo(session, []) }, 201);
  });

  api.get('/repos/:repo/uploads/:id', needs('write'), async (c) => {
    const { session, received } = await service.uploadStatus(c.req.param('repo'), c.req.param('id'));
    return c.json({ upload: uploadInfo(session, received) });
  });

  api.put('/repos/:repo/uploads/:id/parts/:part', needs('write'), async (c) => {
    const length = c.req.header('content-length');
    const size = length === undefined || !/^\d+$/.test(length) ? undefined : Number(length);
    const body = c.req.raw.body ?? new Blob([]).stream();
    const part = await service.putUploadPart(c.req.param('repo'), c.req.param('id'), Number(c.req.param('part')), body, size);
    return c.json({ part });
  });

  api.delete('/repos/:repo/uploads/:id', needs('write'), async (c) => {
    await service.abortUpload(c.req.param('repo'), c.req.param('id'));
    return c.body(null, 204);
  });
}

function uploadInfo(session: UploadSession, received: PartInfo[]) {
  return { id: session.id, name: session.name, size: session.size, partSize: session.partSize, parts: session.parts, received: received.map((p) => p.part), createdAt: session.createdAt };
}
