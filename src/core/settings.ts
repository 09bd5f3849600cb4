import { z } from 'zod';
import { PackyardError } from '../util/errors.js';
import type { Coordinates } from './format.js';
import type { DistributionSettings } from './snapshot.js';

export const DISTRIBUTION_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const COMPONENT_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
// Debian's names, and RPM's (`x86_64`).
const ARCH = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const field = z.string().max(200).regex(/^[^\n\r]*$/, 'must be a single line');

/** `keepVersions`: the newest this many of each package are kept in each place (src/core/retention.ts). */
export const retentionSchema = z.object({ keepVersions: z.number().int().min(1).max(100_000) }).strict();

/** The settings of an APT or RPM distribution (the fields of Debian's `Release`). */
export const distributionSettingsSchema: z.ZodType<DistributionSettings> = z
  .object({
    origin: field.optional(),
    label: field.optional(),
    suite: field.regex(DISTRIBUTION_NAME).optional(),
    codename: field.regex(DISTRIBUTION_NAME).optional(),
    description: field.optional(),
    components: z.array(z.string().regex(COMPONENT_NAME)).max(64).optional(),
    validFor: z.number().int().positive().max(10 * 365 * 86400).optional(),
    retention: retentionSchema.optional(),
  })
  .strict();

/** The distribution an upload or removal names, checked (APT and RPM repositories both have them). */
export function distributionOf(coordinates: Coordinates): string {
  const distribution = coordinates.distribution;
  if (!distribution) throw new PackyardError(400, 'missing-parameter', 'query parameter "distribution" is required');
  if (!DISTRIBUTION_NAME.test(distribution)) throw new PackyardError(400, 'invalid-distribution', `invalid distribution name "${distribution}"`);
  return distribution;
}

export const architecturesSchema = z.array(z.string().regex(ARCH).refine((a) => !['all', 'any', 'noarch'].includes(a), 'is not a concrete architecture')).min(1).max(32);

/** A new repository's settings, with the distribution settings of its format. */
export function createRepoSchema(distribution: z.ZodType<DistributionSettings>) {
  return z
    .object({
      name: z.string(),
      type: z.string(),
      architectures: architecturesSchema.optional(),
      distributions: z.record(z.string().regex(DISTRIBUTION_NAME), distribution).optional(),
      public: z.boolean().optional(),
      retention: retentionSchema.optional(),
    })
    .strict();
}

export function updateRepoSchema(distribution: z.ZodType<DistributionSettings>) {
  return z
    .object({
      architectures: architecturesSchema.optional(),
      distributions: z.record(z.string().regex(DISTRIBUTION_NAME), distribution).optional(),
      public: z.boolean().optional(),
      // null takes it away.
      retention: retentionSchema.nullable().optional(),
    })
    .strict();
}
