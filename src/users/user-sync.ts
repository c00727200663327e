import type { Db } from '../storage/db';
import { upsertUsers, type UserClaims } from './user-repository';

const MAX_REMEMBERED = 50_000;

interface Pending {
  claims: UserClaims;
  key: string;
  waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }>;
}

/**
 * "Any authenticated request creates or updates the user" without a write per request: the claims
 * last written for each user are remembered, and only a change (or a restart) writes again.
 *
 * After a restart every client reconnects at once, each a first sight of its user: the writes
 * that arrive in the same turn of the event loop go out as one multi-row upsert, not one round
 * trip each. A request waits for the statement that carries its user.
 */
export function createUserSync(db: Db): (c: UserClaims) => Promise<void> {
  const written = new Map<string, string>();
  let pending = new Map<string, Pending>();
  let scheduled = false;

  const flush = async () => {
    const batch = pending;
    pending = new Map();
    scheduled = false;
    try {
      await upsertUsers(db, [...batch.values()].map((p) => p.claims));
    } catch (err) {
      for (const p of batch.values()) for (const w of p.waiters) w.reject(err);
      return;
    }
    if (written.size + batch.size > MAX_REMEMBERED) written.clear();
    for (const [userId, p] of batch) {
      written.set(userId, p.key);
      for (const w of p.waiters) w.resolve();
    }
  };

  return (c) => {
    const key = `${c.role}\u0000${c.name ?? ''}\u0000${c.email ?? ''}`;
    if (written.get(c.userId) === key) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const p = pending.get(c.userId);
      // Two requests of one user in one turn with different claims: the later claims are written.
      if (p) Object.assign(p, { claims: c, key }).waiters.push({ resolve, reject });
      else pending.set(c.userId, { claims: c, key, waiters: [{ resolve, reject }] });
      if (!scheduled) {
        scheduled = true;
        setImmediate(() => void flush());
      }
    });
  };
}
