import type { PaymentRow } from './payment-repository';

/**
 * The parts of a charge, in cents, once some of it may have gone back to the client: by Paystack
 * refunds (`refunded`) or by card disputes the customer won before the payout went out
 * (`chargedBack`). What is left (`held`) is what escrow holds, or, once released, what the payout
 * and the platform's fee are made of.
 */
export interface PaymentAmounts {
  amount: number;
  refunded: number;
  chargedBack: number;
  /** While a refund is pending: what `refunded` comes to when it is processed. */
  refundTarget: number | null;
}

export function amountsOf(p: Pick<PaymentRow, 'amount' | 'refunded_amount' | 'charged_back_amount' | 'refund_target'>): PaymentAmounts {
  return {
    amount: Number(p.amount),
    refunded: Number(p.refunded_amount ?? 0),
    chargedBack: Number(p.charged_back_amount ?? 0),
    refundTarget: p.refund_target === null || p.refund_target === undefined ? null : Number(p.refund_target),
  };
}

/** The charge less everything that went back to the client. */
export function heldAmount(a: PaymentAmounts): number {
  return a.amount - a.refunded - a.chargedBack;
}

/** What the pending refund has still to bring back: all that is held unless a target says less. */
export function owedAmount(a: PaymentAmounts): number {
  return (a.refundTarget ?? a.amount - a.chargedBack) - a.refunded;
}
