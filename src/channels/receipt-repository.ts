import type { Db } from '../storage/db';

/** What a receipt states about a booking's money: amounts in integer cents. */
export interface ReceiptFacts {
  bookingId: string;
  service: string;
  scheduledFor: Date;
  currency: string;
  /** What the client paid (the booking's amount). */
  amount: number;
  /** The client's payment reference with Paystack, once a checkout exists. */
  paymentReference: string | null;
  payment: { status: string } | null;
  /** The provider's payout: what reached them, its reference, and the platform's fee kept. */
  payout: { amount: number; fee: number; reference: string; status: string } | null;
}

export async function receiptFacts(db: Db, bookingId: string): Promise<ReceiptFacts | null> {
  const row:
    | {
        id: string;
        service: string;
        scheduled_for: Date;
        amount: string;
        currency: string;
        p_reference: string | null;
        p_status: string | null;
        o_amount: string | null;
        o_reference: string | null;
        o_status: string | null;
      }
    | undefined = await db('bookings as b')
    .leftJoin('payments as p', 'p.booking_id', 'b.id')
    .leftJoin('payouts as o', 'o.booking_id', 'b.id')
    .where('b.id', bookingId)
    .first(
      'b.id',
      'b.service',
      'b.scheduled_for',
      'b.amount',
      'b.currency',
      'p.reference as p_reference',
      'p.status as p_status',
      'o.amount as o_amount',
      'o.reference as o_reference',
      'o.status as o_status',
    );
  if (!row) return null;
  const amount = Number(row.amount);
  return {
    bookingId: String(row.id),
    service: row.service,
    scheduledFor: new Date(row.scheduled_for),
    currency: row.currency,
    amount,
    paymentReference: row.p_reference,
    payment: row.p_status ? { status: row.p_status } : null,
    payout:
      row.o_reference && row.o_amount !== null
        ? { amount: Number(row.o_amount), fee: amount - Number(row.o_amount), reference: row.o_reference, status: row.o_status ?? '' }
        : null,
  };
}
