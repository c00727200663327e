import type { Db } from '../storage/db';
import type { PayoutStatus } from '../contract/vocabulary';

export interface PayoutRow {
  id: string;
  booking_id: string;
  payment_id: string;
  provider_id: string;
  reference: string;
  status: PayoutStatus;
  amount: string;
  currency: string;
  transfer_code: string | null;
  reason: string | null;
  /** The platform's fee rate this payout was made with (PLATFORM_FEE_BPS at release). */
  fee_bps: number | null;
}

/** A payout as the money lists show it. */
export type PayoutListRow = Pick<PayoutRow, 'id' | 'booking_id' | 'reference' | 'status' | 'amount' | 'currency' | 'reason'> & {
  created_at: Date | string;
  updated_at: Date | string;
};

/** Payouts by id, newest first, below `before` when given: a provider's (`providerId`), or all; in one status when given. */
export async function listPayoutRows(db: Db, o: { providerId?: string; status?: PayoutStatus; before?: string; limit: number }): Promise<PayoutListRow[]> {
  const q = db('payouts as o')
    .select('o.id', 'o.booking_id', 'o.reference', 'o.status', 'o.amount', 'o.currency', 'o.reason', 'o.created_at', 'o.updated_at')
    .orderBy('o.id', 'desc')
    .limit(o.limit);
  if (o.providerId !== undefined) q.where('o.provider_id', o.providerId);
  if (o.status) q.where('o.status', o.status);
  if (o.before) q.where('o.id', '<', o.before);
  return (await q) as PayoutListRow[];
}

export async function insertPayout(
  db: Db,
  p: Pick<PayoutRow, 'booking_id' | 'payment_id' | 'provider_id' | 'reference' | 'currency' | 'fee_bps'> & { amount: number },
): Promise<PayoutRow> {
  const [row] = await db('payouts')
    .insert({ ...p, status: 'PENDING' satisfies PayoutStatus })
    .returning<PayoutRow[]>('*');
  return row;
}

export async function findPayout(db: Db, id: string): Promise<PayoutRow | undefined> {
  return db<PayoutRow>('payouts').where({ id }).first();
}

export async function lockPayoutByPayment(db: Db, paymentId: string): Promise<PayoutRow | undefined> {
  return db<PayoutRow>('payouts').where({ payment_id: paymentId }).forUpdate().first();
}

export async function lockPayout(db: Db, id: string): Promise<PayoutRow | undefined> {
  return db<PayoutRow>('payouts').where({ id }).forUpdate().first();
}

export async function lockPayoutByReference(db: Db, reference: string): Promise<PayoutRow | undefined> {
  return db<PayoutRow>('payouts').where({ reference }).forUpdate().first();
}

export async function findPayoutByReference(db: Db, reference: string): Promise<PayoutRow | undefined> {
  return db<PayoutRow>('payouts').where({ reference }).first();
}

export async function setPayoutStatus(db: Db, id: string, status: PayoutStatus, extra: { transfer_code?: string; reason?: string | null } = {}): Promise<void> {
  // A new status starts a new wait: its first check falls due RECONCILE_AFTER_MS from now.
  await db('payouts')
    .where({ id })
    .update({ status, ...extra, updated_at: db.fn.now(), next_check_at: null, check_attempts: 0 });
}

/** A retried payout's new transfer reference; the old transfer's code no longer applies. */
export async function setPayoutReference(db: Db, id: string, reference: string): Promise<void> {
  await db('payouts').where({ id }).update({ reference, transfer_code: null });
}

/** A waiting payout made smaller: part of its payment went back to the client. */
export async function setPayoutAmount(db: Db, id: string, amount: number): Promise<void> {
  await db('payouts').where({ id }).update({ amount, updated_at: db.fn.now() });
}
