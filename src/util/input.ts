import type { z } from 'zod';
import { PackyardError } from './errors.js';

/** Validates request input against a schema; the first problem becomes a 400 naming the field. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const result = schema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new PackyardError(400, 'invalid-request', `${issue.path.join('.') || 'body'}: ${issue.message}`);
  }
  return result.data;
}
