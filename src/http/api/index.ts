import { Hono } from 'hono';
import { apiContext, type ApiDeps, type Env } from './middleware.js';
import { repoRoutes } from './repos.js';
import { packageRoutes } from './packages.js';
import { uploadRoutes } from './uploads.js';
import { tokenRoutes } from './tokens.js';
import { oidcPolicyRoutes } from './oidc-policies.js';
import { sourceRoutes } from './sources.js';
import { checkRoutes } from './checks.js';
import { terraformRoutes } from './terraform.js';
import { promoteRoutes } from './promote.js';
import { distributionRoutes } from './distributions.js';

export type { ApiDeps } from './middleware.js';

/**
 * The JSON API under `/api/v1`, one module per resource. Each route says what it needs; `actor`
 * is who, for the audit trail. No two resources' routes match the same request, so the order
 * they are added in does not matter.
 */
export function createApi(deps: ApiDeps): Hono<Env> {
  const api = new Hono<Env>();
  const context = apiContext(deps);
  repoRoutes(api, context);
  packageRoutes(api, context);
  uploadRoutes(api, context);
  tokenRoutes(api, context);
  oidcPolicyRoutes(api, context);
  sourceRoutes(api, context);
  checkRoutes(api, context);
  terraformRoutes(api, context);
  promoteRoutes(api, context);
  distributionRoutes(api, context);
  return api;
}
