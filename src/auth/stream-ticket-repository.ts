import type { Db } from '../storage/db';

/** A ticket as redeemed: who minted it, as what, and until when their token was good. */
export interface RedeemedTicket {
  user_id: string;
  role: string;
  token_expires_at: Date | string;
}

/**
 * The expiry times of the user's unexpired tickets, soonest first, at most `limit`. The user's row
 * is locked first, so racing mints count one after the other.
 */
export async function lockUnexpiredTickets(db: Db, userId: string, now: Date, limit: number): Promise<Array<Date | string>> {
  await db('users').where({ id: userId }).forUpdate().first('id');
  const rows: Array<{ expires_at: Date | string }> = await db('stream_tickets')
    .where({ user_id: userId })
    .andWhere('expires_at', '>', now)
    .orderBy('expires_at')
    .limit(limit)
    .select('expires_at');
  return rows.map((r) => r.expires_at);
}

export async function insertTicket(db: Db, t: { hash: string; userId: string; role: string; tokenExpiresAt: Date; expiresAt: Date }): Promise<void> {
  await db('stream_tickets').insert({ hash: t.hash, user_id: t.userId, role: t.role, token_expires_at: t.tokenExpiresAt, expires_at: t.expiresAt });
}

/** Marks the unused, unexpired ticket with this hash used, in one UPDATE: of two racing redeems exactly one gets the row. */
export async function useTicket(db: Db, hash: string, now: Date): Promise<RedeemedTicket | undefined> {
  const rows: RedeemedTicket[] = await db('stream_tickets')
    .update({ used_at: now })
    .where({ hash })
    .whereNull('used_at')
    .andWhere('expires_at', '>', now)
    .returning(['user_id', 'role', 'token_expires_at']);
  return rows[0];
}

export async function deleteTicketsExpiredBefore(db: Db, before: Date): Promise<number> {
  return db('stream_tickets').where('expires_at', '<', before).del();
}
