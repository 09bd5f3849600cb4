import type { R2BucketLike } from '../../storage/r2.js';
import type { DiskServiceLike } from '../../storage/workerd-disk.js';

/** The Worker's bindings, vars and secrets (see wrangler.toml, and deploy/workerd for on-prem). */
export interface Env {
  /** The storage on Cloudflare. */
  BUCKET?: R2BucketLike;
  /** The storage on-prem: a writable workerd disk service (used when BUCKET is not bound). */
  DISK?: DiskServiceLike;
  /**
   * The storage on-prem in an S3-compatible bucket, `s3://BUCKET[/PREFIX]` (used when BUCKET is
   * not bound), with the standard AWS_* variables as secrets; one bucket can serve this Worker
   * and `packyard serve` nodes together.
   */
  PACKYARD_STORAGE?: string;
  AWS_ACCESS_KEY_ID?: string;
  AWS_SECRET_ACCESS_KEY?: string;
  AWS_SESSION_TOKEN?: string;
  AWS_REGION?: string;
  AWS_ENDPOINT_URL?: string;
  PUBLISHER: DurableObjectNamespace;
  /** Secret: the admin token for the API (as PACKYARD_ADMIN_TOKEN for `packyard serve`). */
  PACKYARD_ADMIN_TOKEN?: string;
  /** Secret: an armored private signing key (`packyard key export --private`); made and kept in R2 when unset. */
  PACKYARD_SIGNING_KEY?: string;
  PACKYARD_SIGNING_KEY_PASSPHRASE?: string;
  /** "1": accept http:// OIDC issuers on loopback addresses (tests only). */
  PACKYARD_OIDC_ALLOW_INSECURE?: string;
  /** How long, in ms, an isolate reuses a repository's head for serving (default 1000). */
  PACKYARD_HEAD_TTL_MS?: string;
  /** The cron trigger that syncs repositories from their sources (default in cron.ts). */
  PACKYARD_SYNC_CRON?: string;
}
