import type { Db } from '../storage/db';

/**
 * What a delivery needs to know before any transaction, in one read: whether its key was
 * recorded already (a redelivery), and whether `reference`, if given, is one of our payments
 * (only then is Paystack asked to verify it).
 */
export async function lookUpDelivery(db: Db, dedupeKey: string, reference: string | undefined): Promise<{ recorded: boolean; paymentExists: boolean }> {
  const { rows }: { rows: Array<{ recorded: boolean; payment_exists: boolean }> } = await db.raw(
    `SELECT EXISTS (SELECT 1 FROM webhook_deliveries WHERE dedupe_key = ?) AS recorded,
            EXISTS (SELECT 1 FROM payments WHERE reference = ?) AS payment_exists`,
    [dedupeKey, reference ?? null],
  );
  return { recorded: rows[0].recorded, paymentExists: rows[0].payment_exists };
}

export interface DeliveryRecord {
  dedupeKey: string;
  event: string;
  payload: unknown;
  outcome: string;
}

/**
 * Records deliveries with their outcomes, in one statement; resolves with how many were new. Fewer
 * than given means a key was recorded already (that one is not written again).
 */
export async function recordDeliveries(db: Db, ds: readonly DeliveryRecord[]): Promise<number> {
  if (ds.length === 0) return 0;
  const inserted = await db('webhook_deliveries')
    .insert(ds.map((d) => ({ dedupe_key: d.dedupeKey, event: d.event, payload: JSON.stringify(d.payload), outcome: d.outcome })))
    .onConflict('dedupe_key')
    .ignore()
    .returning('id');
  return inserted.length;
}
