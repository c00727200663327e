import { z } from 'zod';

export const PaymentStatus = z.enum(['PENDING', 'PAID', 'ESCROW', 'RELEASED', 'FAILED', 'FLAGGED', 'REFUND_PENDING', 'REFUNDED']);
export type PaymentStatus = z.infer<typeof PaymentStatus>;

/**
 * Moves a payment may make. Monotonic: a late or repeated webhook can never move money backwards
 * (nothing returns to PENDING, nothing leaves a final state except ESCROW's exits).
 */
const NEXT: Readonly<Record<PaymentStatus, readonly PaymentStatus[]>> = {
  PENDING: ['PAID', 'FAILED', 'FLAGGED'],
  PAID: ['ESCROW', 'REFUND_PENDING', 'FLAGGED'],
  ESCROW: ['RELEASED', 'REFUND_PENDING', 'REFUNDED'],
  REFUND_PENDING: ['REFUNDED'],
  // Only a lost dispute takes released money back (the payout must not have gone out).
  RELEASED: ['REFUNDED'],
  FAILED: [],
  FLAGGED: [],
  REFUNDED: [],
};

export function canMovePayment(from: PaymentStatus, to: PaymentStatus): boolean {
  return NEXT[from].includes(to);
}
