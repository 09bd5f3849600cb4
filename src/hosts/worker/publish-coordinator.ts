import { appFor } from './index.js';
import type { Env } from './env.js';

/**
 * One per repository (see routing.ts): runs the app for the requests that change the repository,
 * one isolate for all of them, where publishes queue on the store's in-process lock.
 */
export class PublishCoordinator implements DurableObject {
  constructor(
    _state: DurableObjectState,
    private readonly env: Env,
  ) {}

  async fetch(request: Request): Promise<Response> {
    return (await appFor(this.env)).fetch(request, this.env);
  }
}
