import type { Db } from '../storage/db';
import type { Timer, TimerKind } from './booking-timers';

export interface DueTimer {
  id: string;
  booking_id: string;
  kind: TimerKind;
  due_at: Date;
}

/** A booking's timers; one of a kind per booking, so a repeated move cannot schedule it twice. */
export async function insertTimers(db: Db, bookingId: string, timers: readonly Timer[]): Promise<void> {
  if (!timers.length) return;
  await db('booking_timers')
    .insert(timers.map((t) => ({ booking_id: bookingId, kind: t.kind, due_at: t.dueAt })))
    .onConflict(['booking_id', 'kind'])
    .ignore();
}

/**
 * Up to `limit` unfired timers due by `at`, oldest first, locked for the caller's transaction.
 * SKIP LOCKED: another instance's clock takes the next ones instead of waiting, and never the same.
 */
export async function claimDueTimers(db: Db, at: Date, limit: number): Promise<DueTimer[]> {
  const rows: DueTimer[] = await db('booking_timers')
    .whereNull('fired_at')
    .andWhere('due_at', '<=', at)
    .orderBy([{ column: 'due_at' }, { column: 'id' }])
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .select('id', 'booking_id', 'kind', 'due_at');
  return rows.map((r) => ({ ...r, id: String(r.id), booking_id: String(r.booking_id) }));
}

/** Fired, whether it told anyone or found nothing left to do: a timer fires once. */
export async function markTimersFired(db: Db, ids: readonly string[]): Promise<void> {
  if (ids.length) await db('booking_timers').whereIn('id', ids).update({ fired_at: db.fn.now() });
}
