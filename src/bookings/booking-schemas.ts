import { z } from 'zod';
import { UserId, BookingStatus } from '../contract/vocabulary';
import { RowId } from '../http/ids';
import { EmptyBody } from '../http/validate';

export const Currency = z.enum(['ZAR', 'NGN', 'GHS', 'KES', 'USD']);

/**
 * Amounts are integer cents everywhere. At least R1, so that a payout after the largest fee is
 * never zero (a zero transfer cannot be sent); R1 million is a generous ceiling for one booking.
 */
export const AmountCents = z.number().int().min(100).max(100_000_000);

export const CreateBookingRequest = z.strictObject({
  providerId: UserId,
  service: z.string().trim().min(1).max(100),
  scheduledFor: z.iso.datetime({ offset: true }).refine((v) => Date.parse(v) > Date.now(), 'must be in the future'),
  amount: AmountCents,
  currency: Currency.default('ZAR'),
  notes: z.string().max(2000).optional(),
});
export type CreateBookingRequest = z.infer<typeof CreateBookingRequest>;

export const ReasonRequest = z.strictObject({ reason: z.string().trim().min(1).max(500).optional() });

/** Holding escrow needs a reason: an admin decides on it. */
export const DisputeRequest = z.strictObject({ reason: z.string().trim().min(1).max(500) });

/** Actions without a body accept none, or an empty object. */
export const EmptyRequest = EmptyBody;

export const ListBookingsQuery = z.strictObject({
  status: BookingStatus.optional(),
  cursor: RowId.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});
export type ListBookingsQuery = z.infer<typeof ListBookingsQuery>;

export { BookingView } from '../contract/views';

/** POST /api/bookings/:id/payment: the payer's email when the token carries none. */
export const PaymentRequest = z.strictObject({ email: z.email().max(320).optional() });
