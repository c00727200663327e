import type { Db } from '../storage/db';
import type { PaymentStatus } from './payment-state';

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
}

export async function findPaymentByBooking(db: Db, bookingId: string): Promise<PaymentRow | undefined> {
  return db<PaymentRow>('payments').where({ booking_id: bookingId }).first();
}

export async function findPaymentByReference(db: Db, reference: string): Promise<PaymentRow | undefined> {
  return db<PaymentRow>('payments').where({ reference }).first();
}

export async function lockPaymentByBooking(db: Db, bookingId: string): Promise<PaymentRow | undefined> {
  return db<PaymentRow>('payments').where({ booking_id: bookingId }).forUpdate().first();
}

export async function lockPayment(db: Db, id: string): Promise<PaymentRow | undefined> {
  return db<PaymentRow>('payments').where({ id }).forUpdate().first();
}

/** Returns undefined when the booking already has a payment (a racing initialize won). */
export async function insertPayment(
  db: Db,
  p: Omit<PaymentRow, 'id' | 'amount' | 'disputed_at' | 'dispute_id'> & { amount: number },
): Promise<PaymentRow | undefined> {
  const rows: PaymentRow[] = await db('payments').insert(p).onConflict('booking_id').ignore().returning('*');
  return rows[0];
}

export async function setPaymentStatus(
  db: Db,
  id: string,
  status: PaymentStatus,
  extra: { paystack_transaction_id?: number } = {},
): Promise<void> {
  await db('payments').where({ id }).update({ status, ...extra, updated_at: db.fn.now() });
}
