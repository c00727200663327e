import type { Db } from '../storage/db';

/** A payment or payout the reconciler claimed to ask Paystack about. */
export type ClaimedCheck = { id: string; reference: string; status: string; created_at: Date; paystack_transaction_id: string | null };

export interface ClaimChecks {
  kind: 'payment' | 'payout';
  /** The statuses that wait on Paystack. */
  statuses: readonly string[];
  now: Date;
  /** A row's first check falls due this long after its last change; the back-off starts at `baseMs`. */
  staleAfterMs: number;
  baseMs: number;
  maxBackoffMs: number;
  limit: number;
}

/**
 * Claims up to `limit` due rows, most overdue first (SKIP LOCKED, so instances take different
 * ones), and schedules each one's next check: `baseMs` doubled per check so far, capped at
 * `maxBackoffMs`. A payout whose payment has an open card dispute is never claimed.
 */
export async function claimDueChecks(db: Db, c: ClaimChecks): Promise<ClaimedCheck[]> {
  const table = c.kind === 'payment' ? 'payments' : 'payouts';
  const dueAt = `coalesce(t.next_check_at, t.updated_at + make_interval(secs => ? / 1000.0))`;
  const frozen = c.kind === 'payout' ? `AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.id = t.payment_id AND p.disputed_at IS NOT NULL)` : '';
  const result = await db.raw<{ rows: ClaimedCheck[] }>(
    `UPDATE ${table} AS u
     SET next_check_at = ?::timestamptz + make_interval(secs => least(? * power(2, least(u.check_attempts, 30)), ?) / 1000.0),
         check_attempts = u.check_attempts + 1
     WHERE u.id IN (
       SELECT t.id FROM ${table} t
       WHERE t.status = ANY(?::text[]) AND ${dueAt} <= ? ${frozen}
       ORDER BY ${dueAt}, t.id
       LIMIT ${c.limit} FOR UPDATE SKIP LOCKED)
     RETURNING u.id, u.reference, u.status, u.created_at, ${c.kind === 'payment' ? 'u.paystack_transaction_id' : 'NULL AS paystack_transaction_id'}`,
    [c.now, c.baseMs, c.maxBackoffMs, [...c.statuses], c.staleAfterMs, c.now, c.staleAfterMs],
  );
  return result.rows;
}
