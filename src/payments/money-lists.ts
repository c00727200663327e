import { z } from 'zod';
import { pageOf } from '../storage/paging';
import type { Db } from '../storage/db';
import { RowId } from '../http/ids';
import { PaymentStatus, PayoutStatus } from '../contract/vocabulary';
import type { PaymentItem, PayoutItem } from '../contract/views';
import { cents } from './ledger';
import { listPaymentRows } from './payment-repository';
import { listPayoutRows } from './payout-repository';

/*
 * The money lists: a caller's payments and payouts (GET /api/payments, GET /api/payouts, and the
 * sync's recent money), cursor paging by id, newest first.
 */

const Limit = z.coerce.number().int().min(1).max(100).default(20);

export const ListPaymentsQuery = z.strictObject({
  cursor: RowId.optional(),
  limit: Limit,
  status: PaymentStatus.optional(),
});
export type ListPaymentsQuery = z.infer<typeof ListPaymentsQuery>;

export const ListPayoutsQuery = z.strictObject({
  cursor: RowId.optional(),
  limit: Limit,
  status: PayoutStatus.optional(),
});
export type ListPayoutsQuery = z.infer<typeof ListPayoutsQuery>;

interface MoneyRow {
  id: string;
  booking_id: string;
  reference: string;
  status: string;
  amount: string;
  currency: string;
  reason?: string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

const iso = (d: Date | string) => (d instanceof Date ? d : new Date(d)).toISOString();

function item(r: MoneyRow) {
  return {
    id: String(r.id),
    bookingId: String(r.booking_id),
    reference: r.reference,
    status: r.status,
    amount: cents(r.amount),
    currency: r.currency,
    ...(r.reason ? { reason: r.reason } : {}),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

/** Payments, newest first: a client's (`clientId`), those of a provider's bookings (`providerId`), or all. */
export async function listPayments(
  db: Db,
  o: ListPaymentsQuery & { clientId?: string; providerId?: string },
): Promise<{ payments: PaymentItem[]; nextCursor: string | null }> {
  const rows = await listPaymentRows(db, { clientId: o.clientId, providerId: o.providerId, status: o.status, before: o.cursor, limit: o.limit + 1 });
  const { items, nextCursor } = pageOf(rows.map(item), o.limit);
  return { payments: items as PaymentItem[], nextCursor };
}

/** Payouts, newest first: a provider's (`providerId`), or all. */
export async function listPayouts(db: Db, o: ListPayoutsQuery & { providerId?: string }): Promise<{ payouts: PayoutItem[]; nextCursor: string | null }> {
  const rows = await listPayoutRows(db, { providerId: o.providerId, status: o.status, before: o.cursor, limit: o.limit + 1 });
  const { items, nextCursor } = pageOf(rows.map(item), o.limit);
  return { payouts: items as PayoutItem[], nextCursor };
}
