import type { Db } from '../storage/db';
import { upsertUsers, type UserClaims } from './user-repository';

const MAX_REMEMBERED = 50_000;
/** Users per upsert: 4 parameters each, well under PostgreSQL's 65,535 per statement. */
const MAX_BATCH = 1_000;

interface Pending {
  claims: UserClaims;
  key: string;
  waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }>;
}

/**
 * "Any authenticated request creates or updates the user" without a write per request: the claims
 * last written for each user are remembered, and only a change (or a restart) writes again.
 *
 * After a restart every client reconnects at once, each a first sight of its user. They are
 * written as multi-row upserts, one at a time: the first sights of one turn of the event loop go
 * out together, and those that arrive while a statement is in flight go out together after it.
 * Reconnects spread over time arrive one per turn, so without the second rule each would be its
 * own round trip, which costs a reconnect storm more server CPU per user than the batches do
 * (docs/performance.md, "Why the code is shaped so"). A request waits for the statement that
 * carries its user.
 */
export function createUserSync(db: Db): (c: UserClaims) => Promise<void> {
  const written = new Map<string, string>();
  let pending = new Map<string, Pending>();
  let scheduled = false;
  let writing = false;

  const write = async (batch: Map<string, Pending>) => {
    try {
      await upsertUsers(
        db,
        [...batch.values()].map((p) => p.claims),
      );
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

  const flush = async () => {
    scheduled = false;
    writing = true;
    while (pending.size) {
      let batch = pending;
      pending = new Map();
      if (batch.size > MAX_BATCH) {
        // A storm that gathered behind a slow statement: the rest waits for the next one.
        const all = [...batch];
        batch = new Map(all.slice(0, MAX_BATCH));
        pending = new Map(all.slice(MAX_BATCH));
      }
      await write(batch);
    }
    writing = false;
  };

  return (c) => {
    const key = `${c.role}\u0000${c.name ?? ''}\u0000${c.email ?? ''}`;
    if (written.get(c.userId) === key) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const p = pending.get(c.userId);
      // Two requests of one user in one batch with different claims: the later claims are written.
      if (p) Object.assign(p, { claims: c, key }).waiters.push({ resolve, reject });
      else pending.set(c.userId, { claims: c, key, waiters: [{ resolve, reject }] });
      // While a statement is in flight, the loop in flush takes what gathered after it.
      if (!scheduled && !writing) {
        scheduled = true;
        setImmediate(() => void flush());
      }
    });
  };
}
