import type { PaymentFollowUps } from './payment-service';

/**
 * The Paystack call a committed change calls for. A transaction never waits on Paystack (on
 * PGlite it holds the only connection), so it returns its follow-up as data, and `runFollowUp`
 * makes the call once the change has committed.
 */
export type FollowUp = { kind: 'transfer'; payoutId: string } | { kind: 'refund'; paymentId: string };

/** Makes a committed change's Paystack call: the payout's transfer, or the payment's refund. */
export async function runFollowUp(payments: PaymentFollowUps, followUp: FollowUp): Promise<void> {
  switch (followUp.kind) {
    case 'transfer':
      await payments.startTransfer(followUp.payoutId);
      return;
    case 'refund':
      await payments.requestRefund(followUp.paymentId);
      return;
  }
}
