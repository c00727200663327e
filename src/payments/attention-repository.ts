import type { Db } from '../storage/db';
import type { AttentionItem, AttentionReason } from './attention';

export interface AttentionQuery {
  now: Date;
  /** A card dispute open longer than this needs a person (DISPUTE_ALERT_DAYS). */
  disputeAlertDays: number;
  /** Escrow held this long past the booking's time without the work completed (STALLED_WORK_HOURS). */
  stalledWorkHours: number;
  /** Only these bookings; all when absent. */
  bookingIds?: readonly string[];
}

const RECENT_DAYS = 30;

interface Row {
  kind: AttentionItem['kind'];
  id: string;
  booking_id: string;
  reason: AttentionReason;
  amount: string;
  currency: string;
  since: Date | string;
}

/**
 * Every payment, payout and booking whose money waits for a person, with why and since when: the
 * one definition of the operators' queue, read from the state tables themselves.
 */
export async function listAttention(db: Db, q: AttentionQuery): Promise<AttentionItem[]> {
  const only = q.bookingIds ? `AND p.booking_id = ANY(?::bigint[])` : '';
  const onlyArgs = q.bookingIds ? [[...q.bookingIds]] : [];
  const disputeBefore = new Date(q.now.getTime() - q.disputeAlertDays * 86_400_000);
  const stalledBefore = new Date(q.now.getTime() - q.stalledWorkHours * 3_600_000);
  // Losses and thin margins have no action that ends them: they stay in the queue for 30 days.
  const recentSince = new Date(q.now.getTime() - RECENT_DAYS * 86_400_000);
  const { rows }: { rows: Row[] } = await db.raw(
    `SELECT 'payment' AS kind, p.id::text AS id, p.booking_id::text AS booking_id, 'FLAGGED' AS reason, p.amount, p.currency, p.updated_at AS since
       FROM payments p WHERE p.status = 'FLAGGED' ${only}
     UNION ALL
     SELECT 'payment', p.id::text, p.booking_id::text, 'REFUND_FAILING', p.amount, p.currency, p.refund_failed_at
       FROM payments p WHERE p.status = 'REFUND_PENDING' AND p.refund_failure IS NOT NULL ${only}
     UNION ALL
     SELECT 'booking', p.booking_id::text, p.booking_id::text, 'CLIENT_DISPUTE', p.amount, p.currency, p.client_disputed_at
       FROM payments p WHERE p.status = 'ESCROW' AND p.client_disputed_at IS NOT NULL ${only}
     UNION ALL
     SELECT 'payment', p.id::text, p.booking_id::text, 'CARD_DISPUTE', p.amount, p.currency, p.disputed_at
       FROM payments p WHERE p.disputed_at IS NOT NULL AND p.disputed_at < ? ${only}
     UNION ALL
     SELECT 'payout', o.id::text, o.booking_id::text, CASE o.status WHEN 'REVERSED' THEN 'PAYOUT_REVERSED' ELSE 'PAYOUT_FAILED' END,
            o.amount, o.currency, o.updated_at
       FROM payouts o JOIN payments p ON p.id = o.payment_id
       WHERE o.status IN ('FAILED', 'REVERSED') AND p.status = 'RELEASED' ${only}
     UNION ALL
     SELECT 'payout', o.id::text, o.booking_id::text, 'OTP_REQUIRED', o.amount, o.currency, o.updated_at
       FROM payouts o JOIN payments p ON p.id = o.payment_id
       WHERE o.status IN ('PENDING', 'PROCESSING') AND o.reason = 'OTP_REQUIRED' ${only}
     UNION ALL
     SELECT 'booking', b.id::text, b.id::text, 'STALLED_WORK', p.amount, p.currency, b.scheduled_for
       FROM bookings b JOIN payments p ON p.booking_id = b.id
       WHERE p.status = 'ESCROW' AND b.status IN ('CONFIRMED', 'IN_PROGRESS') AND b.scheduled_for < ? ${only}
     UNION ALL
     SELECT 'payment', p.id::text, p.booking_id::text, 'CHARGEBACK_LOSS', coalesce(p.chargeback_loss, p.amount), p.currency, p.chargeback_at
       FROM payments p WHERE p.chargeback_at > ? ${only}
     UNION ALL
     SELECT 'payment', p.id::text, p.booking_id::text, 'NEGATIVE_MARGIN', p.amount, p.currency, o.created_at
       FROM payments p JOIN payouts o ON o.payment_id = p.id
       WHERE p.status = 'RELEASED' AND p.amount - p.refunded_amount - p.charged_back_amount - o.amount < coalesce(p.paystack_fees, 0) AND o.created_at > ? ${only}
     ORDER BY since, kind, id`,
    [
      ...onlyArgs,
      ...onlyArgs,
      ...onlyArgs,
      disputeBefore,
      ...onlyArgs,
      ...onlyArgs,
      ...onlyArgs,
      stalledBefore,
      ...onlyArgs,
      recentSince,
      ...onlyArgs,
      recentSince,
      ...onlyArgs,
    ],
  );
  return rows.map((r) => ({
    kind: r.kind,
    id: r.id,
    bookingId: r.booking_id,
    reason: r.reason,
    amount: Number(r.amount),
    currency: r.currency,
    since: (r.since instanceof Date ? r.since : new Date(r.since)).toISOString(),
  }));
}

const keyOf = (i: Pick<AttentionItem, 'kind' | 'id' | 'reason'>) => `${i.kind}:${i.id}:${i.reason}`;

/** Forgets every alert whose case is over (not in `current`, the whole queue), so a case that comes back is raised again. */
export async function forgetEnded(db: Db, current: readonly AttentionItem[]): Promise<void> {
  const open = new Set(current.map(keyOf));
  const known: Array<{ kind: string; subject_id: string; reason: string }> = await db('attention_alerts').select('kind', 'subject_id', 'reason');
  for (const k of known) {
    if (!open.has(keyOf({ kind: k.kind as AttentionItem['kind'], id: k.subject_id, reason: k.reason as AttentionReason }))) {
      await db('attention_alerts').where(k).del();
    }
  }
}

/** Records `items` as raised and returns those raised now for the first time. */
export async function raiseNew(db: Db, items: readonly AttentionItem[]): Promise<AttentionItem[]> {
  if (!items.length) return [];
  const inserted: Array<{ kind: string; subject_id: string; reason: string }> = await db('attention_alerts')
    .insert(items.map((i) => ({ kind: i.kind, subject_id: i.id, reason: i.reason, booking_id: i.bookingId })))
    .onConflict(['kind', 'subject_id', 'reason'])
    .ignore()
    .returning(['kind', 'subject_id', 'reason']);
  const fresh = new Set(inserted.map((r) => `${r.kind}:${r.subject_id}:${r.reason}`));
  return items.filter((i) => fresh.has(keyOf(i)));
}

/** An admin's action on a booking's money, kept with who, when and why. */
export async function recordAdminAction(
  db: Db,
  a: { actorId: string; action: string; bookingId: string; paymentId: string | null; reason: string },
): Promise<void> {
  await db('admin_actions').insert({ actor_id: a.actorId, action: a.action, booking_id: a.bookingId, payment_id: a.paymentId, reason: a.reason });
}
