import { PaymentStatus } from '../contract/vocabulary';

/**
 * Moves a payment may make. Monotonic: a late or repeated webhook can never move money backwards
 * (nothing returns to PENDING, nothing leaves a final state except ESCROW's exits).
 */
const NEXT: Readonly<Record<PaymentStatus, readonly PaymentStatus[]>> = {
  // EXPIRED: a checkout nobody paid within CHECKOUT_EXPIRY_HOURS (verified once more first).
  PENDING: ['PAID', 'FAILED', 'FLAGGED', 'EXPIRED'],
  PAID: ['ESCROW', 'REFUND_PENDING', 'FLAGGED'],
  ESCROW: ['RELEASED', 'REFUND_PENDING', 'REFUNDED'],
  // ESCROW again once a partial refund is processed: the rest of the charge is still held.
  REFUND_PENDING: ['REFUNDED', 'ESCROW'],
  // Only a lost dispute takes released money back (the payout must not have gone out).
  RELEASED: ['REFUNDED'],
  FAILED: [],
  // Only an admin leaves FLAGGED: the verified charge accepted into escrow, or refunded.
  FLAGGED: ['ESCROW', 'REFUND_PENDING'],
  REFUNDED: [],
  EXPIRED: [],
};

/** Statuses in which the payment waits on Paystack, and the reconciler checks it on a schedule. */
export const AWAITING_PAYSTACK: readonly PaymentStatus[] = ['PENDING', 'REFUND_PENDING'];

export function canMovePayment(from: PaymentStatus, to: PaymentStatus): boolean {
  return NEXT[from].includes(to);
}
