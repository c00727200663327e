import { z } from 'zod';

export const PayoutStatus = z.enum(['PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'REVERSED']);
export type PayoutStatus = z.infer<typeof PayoutStatus>;

/**
 * PENDING may jump straight to a final state: Paystack's webhook can arrive before our own
 * transfer call has returned. A reversal can follow a success.
 */
const NEXT: Readonly<Record<PayoutStatus, readonly PayoutStatus[]>> = {
  PENDING: ['PROCESSING', 'COMPLETED', 'FAILED', 'REVERSED'],
  PROCESSING: ['COMPLETED', 'FAILED', 'REVERSED'],
  COMPLETED: ['REVERSED'],
  FAILED: [],
  REVERSED: [],
};

export function canMovePayout(from: PayoutStatus, to: PayoutStatus): boolean {
  return NEXT[from].includes(to);
}
