import { z } from 'zod';

/*
 * The words the contract and the domain share: roles, user ids, and the states a booking, a
 * payment and a payout can be in, and the channels a notification can take. They live in the
 * contract, the bottom layer, so that the domain's rules (booking-state.ts, payment-state.ts, ...)
 * and the published documents read the same lists and nothing in the contract depends on the domain.
 */

export const Role = z.enum(['client', 'provider', 'admin']);
export type Role = z.infer<typeof Role>;

// Ids are opaque strings from the identity provider; bounded so they are safe in channel names and logs.
export const UserId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:@-]+$/, 'invalid user id');

export const BookingStatus = z.enum(['PENDING', 'CONFIRMED', 'IN_PROGRESS', 'COMPLETED', 'REJECTED', 'CANCELLED', 'EXPIRED']);
export type BookingStatus = z.infer<typeof BookingStatus>;

/** A booking that will not happen: money paid for it goes back to the client. */
export const CALLED_OFF: readonly BookingStatus[] = ['REJECTED', 'CANCELLED', 'EXPIRED'];

export const PaymentStatus = z.enum(['PENDING', 'PAID', 'ESCROW', 'RELEASED', 'FAILED', 'FLAGGED', 'REFUND_PENDING', 'REFUNDED', 'EXPIRED']);
export type PaymentStatus = z.infer<typeof PaymentStatus>;

export const PayoutStatus = z.enum(['PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'REVERSED']);
export type PayoutStatus = z.infer<typeof PayoutStatus>;

export const DeliveryChannel = z.enum(['email', 'push', 'whatsapp', 'sms']);
export type DeliveryChannel = z.infer<typeof DeliveryChannel>;
