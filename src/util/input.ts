import type { z } from 'zod';
import { PackyardError } from './errors.js';

/** Validates request input against a schema; the first problem becomes a 400 naming the field (below `at`, when it is part of a larger body). */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown, at?: string): z.infer<T> {
  const result = schema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new PackyardError(400, 'invalid-request', `${[at, ...issue.path].filter((p) => p !== undefined).join('.') || 'body'}: ${issue.message}`);
  }
  return result.data;
}
