import type { Db } from '../storage/db';
import type { PaymentStatus, BookingStatus } from '../contract/vocabulary';

export interface PaymentRow {
  id: string;
  booking_id: string;
  reference: string;
  status: PaymentStatus;
  amount: string;
  currency: string;
  email: string;
  authorization_url: string | null;
  access_code: string | null;
  disputed_at: Date | null;
  dispute_id: string | null;
  refund_failure: string | null;
  client_disputed_at: Date | null;
  client_dispute_reason: string | null;
  /** What Paystack's verify reported, when it was asked: amount and currency charged, and its fee. */
  verified_amount: string | null;
  verified_currency: string | null;
  paystack_fees: string | null;
  chargeback_at: Date | null;
  /** Partial amounts, in cents (see payment-amounts.ts); bigint columns, read as strings. */
  refunded_amount: string;
  charged_back_amount: string;
  refund_target: string | null;
  chargeback_loss: string | null;
  created_at: Date;
  updated_at: Date;
}

/** A payment as the money lists show it. */
export type PaymentListRow = Pick<PaymentRow, 'id' | 'booking_id' | 'reference' | 'status' | 'amount' | 'currency' | 'created_at' | 'updated_at'>;

/**
 * Payments by id, newest first, below `before` when given: a client's (`clientId`), those of a
 * provider's bookings (`providerId`), or all; in one status when given.
 */
export async function listPaymentRows(
  db: Db,
  o: { clientId?: string; providerId?: string; status?: PaymentStatus; before?: string; limit: number },
): Promise<PaymentListRow[]> {
  const q = db('payments as p')
    .join('bookings as b', 'b.id', 'p.booking_id')
    .select('p.id', 'p.booking_id', 'p.reference', 'p.status', 'p.amount', 'p.currency', 'p.created_at', 'p.updated_at')
    .orderBy('p.id', 'desc')
    .limit(o.limit);
  if (o.clientId !== undefined) q.where('b.client_id', o.clientId);
  if (o.providerId !== undefined) q.where('b.provider_id', o.providerId);
  if (o.status) q.where('p.status', o.status);
  if (o.before) q.where('p.id', '<', o.before);
  return (await q) as PaymentListRow[];
}

/** Statuses of a payment that no longer holds its booking: a checkout that expired or failed. */
const ENDED = ['EXPIRED', 'FAILED'];

/** The booking's live payment, or else its latest (an expired checkout, so its status can be shown). */
export async function findPaymentByBooking(db: Db, bookingId: string): Promise<PaymentRow | undefined> {
  return db<PaymentRow>('payments').where({ booking_id: bookingId }).orderByRaw(`status IN ('EXPIRED', 'FAILED'), id DESC`).first();
}

export async function findPayment(db: Db, id: string): Promise<PaymentRow | undefined> {
  return db<PaymentRow>('payments').where({ id }).first();
}

export async function findPaymentByReference(db: Db, reference: string): Promise<PaymentRow | undefined> {
  return db<PaymentRow>('payments').where({ reference }).first();
}

export async function lockPaymentByBooking(db: Db, bookingId: string): Promise<PaymentRow | undefined> {
  return db<PaymentRow>('payments').where({ booking_id: bookingId }).whereNotIn('status', ENDED).forUpdate().first();
}

/** The booking side of a payment, as the settlement of a Paystack notice needs it. */
export interface PaymentBooking {
  id: string;
  client_id: string;
  provider_id: string;
  status: BookingStatus;
}

/**
 * The booking of an operator's escrow action, locked: booking first, as every booking move takes
 * its locks, then the payment (lockPaymentByBooking).
 */
export async function lockPaymentBooking(db: Db, bookingId: string): Promise<PaymentBooking | undefined> {
  return db<PaymentBooking>('bookings').select('id', 'client_id', 'provider_id', 'status').where({ id: bookingId }).forUpdate().first();
}

/**
 * Locks the payment with this reference and its booking, in one statement. Booking first, then
 * payment (FOR UPDATE OF locks in the order named), the order booking moves take, so a webhook
 * racing a cancel waits instead of deadlocking.
 */
export async function lockPaymentWithBooking(db: Db, reference: string | undefined): Promise<{ payment: PaymentRow; booking: PaymentBooking } | undefined> {
  if (!reference) return undefined;
  const { rows } = await db.raw<{ rows: Array<PaymentRow & { b_client_id: string; b_provider_id: string; b_status: BookingStatus }> }>(
    `SELECT p.*, b.client_id AS b_client_id, b.provider_id AS b_provider_id, b.status AS b_status
     FROM bookings b JOIN payments p ON p.booking_id = b.id
     WHERE p.reference = ?
     FOR UPDATE OF b, p`,
    [reference],
  );
  if (!rows.length) return undefined;
  const { b_client_id, b_provider_id, b_status, ...payment } = rows[0];
  return { payment, booking: { id: payment.booking_id, client_id: b_client_id, provider_id: b_provider_id, status: b_status } };
}

export async function lockPayment(db: Db, id: string): Promise<PaymentRow | undefined> {
  return db<PaymentRow>('payments').where({ id }).forUpdate().first();
}

/** Returns undefined when the booking already has a live payment (a racing initialize won). */
export async function insertPayment(
  db: Db,
  p: Pick<PaymentRow, 'booking_id' | 'reference' | 'status' | 'currency' | 'email' | 'authorization_url' | 'access_code'> & { amount: number },
): Promise<PaymentRow | undefined> {
  const rows = await db('payments')
    .insert(p)
    .onConflict(db.raw(`(booking_id) WHERE status NOT IN ('EXPIRED', 'FAILED')`))
    .ignore()
    .returning<PaymentRow[]>('*');
  return rows[0];
}

/** Columns written together with a payment's status. */
export type PaymentExtra = {
  paystack_transaction_id?: number;
  verified_amount?: number;
  verified_currency?: string;
  paystack_fees?: number | null;
  refund_failure?: null;
  refund_failed_at?: null;
  refunded_amount?: number;
  charged_back_amount?: number;
  refund_target?: number | null;
};

export async function setPaymentStatus(db: Db, id: string, status: PaymentStatus, extra: PaymentExtra = {}): Promise<void> {
  // A new status starts a new wait: its first check falls due RECONCILE_AFTER_MS from now.
  await db('payments')
    .where({ id })
    .update({ status, ...extra, updated_at: db.fn.now(), next_check_at: null, check_attempts: 0 });
}

/** The refund request went through after earlier failures: it leaves the operators' queue. */
export async function clearRefundFailure(db: Db, id: string): Promise<void> {
  await db('payments').where({ id }).update({ refund_failure: null, refund_failed_at: null });
}

/**
 * A refund failed: why, since when (the first failure's time is kept while failures go on), and,
 * when `checkNow`, the row falls due for the reconciler at once.
 */
export async function setRefundFailure(db: Db, id: string, failure: string, o: { firstFailure: boolean; checkNow: boolean }): Promise<void> {
  await db('payments')
    .where({ id })
    .update({
      refund_failure: failure,
      refund_failed_at: o.firstFailure ? db.fn.now() : db.raw('refund_failed_at'),
      ...(o.checkNow ? { next_check_at: db.fn.now() } : {}),
    });
}

/** The customer's bank opened a card dispute about the charge. */
export async function markDisputeOpened(db: Db, id: string, disputeId: string | null): Promise<void> {
  await db('payments').where({ id }).update({ disputed_at: db.fn.now(), dispute_id: disputeId });
}

/** The card dispute is over, whoever won it. */
export async function clearDispute(db: Db, id: string): Promise<void> {
  await db('payments').where({ id }).update({ disputed_at: null });
}

/** The client holds escrow: auto-release and payout stop until an admin decides. */
export async function holdForClientDispute(db: Db, id: string, reason: string): Promise<void> {
  await db('payments').where({ id }).update({ client_disputed_at: db.fn.now(), client_dispute_reason: reason });
}

/** An admin accepted a flagged charge: the payment is what Paystack actually took. */
export async function setVerifiedAmount(db: Db, id: string, amount: number): Promise<void> {
  await db('payments').where({ id }).update({ amount });
}

/** A card dispute took the charge back after the payout went out: a chargeback loss. */
export async function markChargeback(db: Db, id: string, loss: number): Promise<void> {
  await db('payments').where({ id }).update({ chargeback_at: db.fn.now(), chargeback_loss: loss });
}

/** Partial amounts that changed without a change of status (see payment-amounts.ts). */
export async function setReturnedAmounts(db: Db, id: string, a: { refunded_amount?: number; charged_back_amount?: number }): Promise<void> {
  await db('payments')
    .where({ id })
    .update({ ...a, updated_at: db.fn.now() });
}
