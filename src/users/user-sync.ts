import type { Db } from '../storage/db';
import { upsertUser, type UserClaims } from './user-repository';

const MAX_REMEMBERED = 50_000;

/**
 * "Any authenticated request creates or updates the user" without a write per request: the claims
 * last written for each user are remembered, and only a change (or a restart) writes again.
 */
export function createUserSync(db: Db): (c: UserClaims) => Promise<void> {
  const written = new Map<string, string>();
  return async (c) => {
    const key = `${c.role}\u0000${c.name ?? ''}\u0000${c.email ?? ''}`;
    if (written.get(c.userId) === key) return;
    await upsertUser(db, c);
    if (written.size >= MAX_REMEMBERED) written.clear();
    written.set(c.userId, key);
  };
}
