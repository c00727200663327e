import { z } from 'zod';
import { AppError } from '../errors/app-error';
import { isUnstorable } from '../storage/storable-text';

/** A request that carries no fields: no body, or `{}`. */
export const EmptyBody = z.strictObject({});

interface Issue {
  path: string;
  code: string;
  message: string;
}

/** Parse input at the HTTP edge; a failure is a 400 carrying zod's issues, never a 500. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw invalid(result.error.issues.map((i) => ({ path: i.path.join('.'), code: i.code, message: i.message })));
  }
  // Checked on what the schema let through, not on the raw input: that is bounded by the schema
  // (no unknown keys, no arbitrary depth) and is exactly what may reach the database.
  const unstorable = unstorableStrings(result.data);
  if (unstorable.length) throw invalid(unstorable);
  return result.data;
}

function invalid(details: Issue[]): AppError {
  return new AppError('VALIDATION_FAILED', 'Request is invalid', details);
}

function unstorableStrings(data: unknown): Issue[] {
  const issues: Issue[] = [];
  const stack: Array<[unknown, string[]]> = [[data, []]];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (isUnstorable(v)) issues.push({ path: path.join('.'), code: 'invalid_string', message: 'must not contain NUL or unpaired surrogates' });
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => stack.push([x, [...path, String(i)]]));
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) stack.push([x, [...path, k]]);
    }
  }
  return issues;
}
