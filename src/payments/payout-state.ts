import { PayoutStatus } from '../contract/vocabulary';

/**
 * PENDING may jump straight to a final state: Paystack's webhook can arrive before our own
 * transfer call has returned. A reversal can follow a success. A failed or reversed payout goes
 * back to PENDING only when retried.
 */
const NEXT: Readonly<Record<PayoutStatus, readonly PayoutStatus[]>> = {
  PENDING: ['PROCESSING', 'COMPLETED', 'FAILED', 'REVERSED'],
  PROCESSING: ['COMPLETED', 'FAILED', 'REVERSED'],
  COMPLETED: ['REVERSED'],
  // Only an admin's retry leaves these, with a new transfer reference (payment-service.ts).
  FAILED: ['PENDING'],
  REVERSED: ['PENDING'],
};

/** Statuses in which the payout waits on Paystack, and the reconciler checks it on a schedule. */
export const PAYOUT_AWAITING_PAYSTACK: readonly PayoutStatus[] = ['PENDING', 'PROCESSING'];

export function canMovePayout(from: PayoutStatus, to: PayoutStatus): boolean {
  return NEXT[from].includes(to);
}
