import type { z } from 'zod';
import { AppError } from './app-error';

/** Parse input at the HTTP edge; a failure is a 400 carrying zod's issues, never a 500. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new AppError(
      'VALIDATION_FAILED',
      'Request is invalid',
      result.error.issues.map((i) => ({ path: i.path.join('.'), code: i.code, message: i.message })),
    );
  }
  return result.data;
}
