import type { Db } from '../storage/db';

/** A recorded delivery, as the settling side reads it back. */
export interface RecordedDelivery {
  id: string;
  dedupe_key: string;
  payload: unknown;
}

/** The outcome a delivery has between being recorded and being settled. */
export const RECORDED = 'recorded';

/**
 * Records a delivery as recorded-not-settled, due for another attempt `retryAfterMs` from now
 * (the attempt in flight counts as its first). Resolves with its id, or undefined when its key
 * was recorded already (a redelivery: nothing is written).
 */
export async function recordDelivery(db: Db, d: { dedupeKey: string; event: string; payload: unknown; retryAfterMs: number }): Promise<string | undefined> {
  const [row] = await db('webhook_deliveries')
    .insert({
      dedupe_key: d.dedupeKey,
      event: d.event,
      payload: JSON.stringify(d.payload),
      outcome: RECORDED,
      attempts: 1,
      next_attempt_at: db.raw(`now() + make_interval(secs => ? / 1000.0)`, [d.retryAfterMs]),
    })
    .onConflict('dedupe_key')
    .ignore()
    .returning<Array<{ id: string | number }>>('id');
  return row ? String(row.id) : undefined;
}

/**
 * Claims up to `limit` unsettled deliveries whose attempt is due, oldest first, and moves each
 * one's next attempt on (`retryAfterMs` doubled per attempt, capped at `maxRetryMs`), so while
 * this instance works on them no other instance (nor this one's next sweep) takes them. SKIP
 * LOCKED: instances sweeping at once take different rows.
 */
export async function claimDueDeliveries(db: Db, limit: number, retryAfterMs: number, maxRetryMs: number): Promise<RecordedDelivery[]> {
  const { rows } = await db.raw<{ rows: RecordedDelivery[] }>(
    `UPDATE webhook_deliveries AS u
     SET attempts = u.attempts + 1,
         next_attempt_at = now() + make_interval(secs => least(? * power(2, least(u.attempts, 20)), ?) / 1000.0)
     WHERE u.id IN (
       SELECT d.id FROM webhook_deliveries d
       WHERE d.settled_at IS NULL AND d.next_attempt_at <= now()
       ORDER BY d.next_attempt_at, d.id
       LIMIT ${Math.trunc(limit)} FOR UPDATE SKIP LOCKED)
     RETURNING u.id, u.dedupe_key, u.payload`,
    [retryAfterMs, maxRetryMs],
  );
  return rows.map((r) => ({ ...r, id: String(r.id) }));
}

/**
 * Inside the settling transaction: locks those of `ids` that are still unsettled and that no
 * other transaction holds, and returns them. Only these may be settled by it; the rest are
 * settled already or being settled elsewhere.
 */
export async function lockUnsettled(db: Db, ids: readonly string[]): Promise<Set<string>> {
  const { rows } = await db.raw<{ rows: Array<{ id: string | number }> }>(
    `SELECT id FROM webhook_deliveries WHERE id = ANY(?::bigint[]) AND settled_at IS NULL ORDER BY id FOR UPDATE SKIP LOCKED`,
    [[...ids]],
  );
  return new Set(rows.map((r) => String(r.id)));
}

/**
 * Marks deliveries settled with their outcomes, in one statement. A contradicted delivery gives
 * up its dedupe key: Paystack's answer may change (a transfer still pending now may fail later),
 * and the true delivery under that key must then be recorded rather than taken for a redelivery.
 */
export async function markSettled(db: Db, ds: ReadonlyArray<{ id: string; outcome: string }>): Promise<void> {
  if (ds.length === 0) return;
  await db.raw(
    `UPDATE webhook_deliveries AS w SET settled_at = now(), next_attempt_at = NULL, outcome = v.outcome,
       dedupe_key = CASE WHEN v.outcome = 'contradicted' THEN w.dedupe_key || ':contradicted:' || w.id ELSE w.dedupe_key END
     FROM unnest(?::bigint[], ?::text[]) AS v(id, outcome) WHERE w.id = v.id`,
    [ds.map((d) => d.id), ds.map((d) => d.outcome)],
  );
}

/** Whether `reference` names one of our payments or payouts: only then is Paystack asked about it. */
export async function referenceExists(db: Db, table: 'payments' | 'payouts', reference: string | undefined): Promise<boolean> {
  if (reference === undefined) return false;
  return (await db(table).where({ reference }).first('id')) !== undefined;
}

/** The payment a refund event names, with the id Paystack knows its transaction by. */
export async function findRefundedPayment(
  db: Db,
  reference: string | undefined,
): Promise<{ reference: string; paystack_transaction_id: string | null } | undefined> {
  if (reference === undefined) return undefined;
  return db('payments').where({ reference }).first('reference', 'paystack_transaction_id');
}
