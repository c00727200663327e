import { z } from 'zod';
import { AppError } from '../errors/app-error';

/** Our row ids: positive decimal bigints, as strings. */
export const RowId = z.string().regex(/^[1-9]\d{0,17}$/, 'must be an id');

/** A path id that is not one of ours is simply not found (never a 500 from the database). */
export function pathId(raw: unknown, what: string): string {
  const r = RowId.safeParse(raw);
  if (!r.success) throw new AppError('NOT_FOUND', `${what} not found`);
  return r.data;
}
