import type { Db } from '../storage/db';
import type { Logger } from '../logger';
import { PaystackError, processedRefundTotal, type PaystackClient, type VerifiedTransaction } from './paystack-client';
import { TRANSFER_FINAL } from './reconciliation';
import { findRefundedPayment, referenceExists } from './webhook-repository';

/** What Paystack's own API said about a delivery before it is settled. */
export type Verification =
  | { kind: 'none' }
  | { kind: 'charge'; verified: VerifiedTransaction | undefined }
  /** Refunds processed for the charge, in cents, by Paystack's own list. */
  | { kind: 'refunds'; processed: number }
  /** Paystack's answer contradicts the webhook: it is recorded and changes nothing. */
  | { kind: 'contradicted'; paystackStatus: string };

const str = (v: unknown): string | undefined => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined);

/** Refund states in which the money is back with the customer or on its way there. */
const REFUND_MOVING = new Set(['pending', 'processing', 'processed']);

/**
 * Asks Paystack before a delivery is acted on, outside any transaction: a charge is verified
 * (its amount and currency are checked against ours in settlement); a transfer that failed or was
 * reversed, or a refund that failed, would move money back the other way, so Paystack must agree
 * first; a processed refund is measured by Paystack's list of the charge's refunds. A signed but forged or stale one that Paystack contradicts changes nothing. Only our own
 * references are asked about. Throws when Paystack cannot answer: the delivery is tried again later.
 */
export async function verifyDelivery(db: Db, paystack: PaystackClient, event: string, data: Record<string, unknown>, logger: Logger): Promise<Verification> {
  const contradicted = (paystackStatus: string, reference: string | undefined): Verification => {
    logger.warn({ code: 'WEBHOOK_CONTRADICTED', webhook: event, reference, paystackStatus }, 'Paystack contradicts the webhook; it changes nothing');
    return { kind: 'contradicted', paystackStatus };
  };
  if (event === 'charge.success') {
    const reference = str(data.reference);
    if (!(await referenceExists(db, 'payments', reference))) return { kind: 'charge', verified: undefined };
    try {
      return { kind: 'charge', verified: await paystack.verifyTransaction(reference!) };
    } catch (err) {
      if (err instanceof PaystackError && err.code === 'PAYSTACK_REJECTED') return contradicted('unknown', reference);
      throw err;
    }
  }
  if (event === 'transfer.failed' || event === 'transfer.reversed') {
    const reference = str(data.reference);
    if (!(await referenceExists(db, 'payouts', reference))) return { kind: 'none' };
    let status: string;
    try {
      status = (await paystack.verifyTransfer(reference!)).status;
    } catch (err) {
      if (err instanceof PaystackError && err.code === 'PAYSTACK_REJECTED') return contradicted('unknown', reference);
      throw err;
    }
    const claimed = event === 'transfer.failed' ? 'FAILED' : 'REVERSED';
    return TRANSFER_FINAL[status] === claimed ? { kind: 'none' } : contradicted(status, reference);
  }
  if (event === 'refund.processed') {
    // The list, not the webhook's own amount: a refund counted by the reconciler first, or a
    // partial one among several, is then counted once.
    const payment = await findRefundedPayment(db, str(data.transaction_reference));
    if (!payment) return { kind: 'none' };
    return { kind: 'refunds', processed: processedRefundTotal(await paystack.listRefunds(payment.paystack_transaction_id ?? payment.reference)) };
  }
  if (event === 'refund.failed' || event === 'refund.needs-attention') {
    const payment = await findRefundedPayment(db, str(data.transaction_reference));
    if (!payment) return { kind: 'none' };
    const refunds = await paystack.listRefunds(payment.paystack_transaction_id ?? payment.reference);
    const claimed = event.slice('refund.'.length);
    // A later refund that is under way or done makes an older failure stale.
    const moving = refunds.find((r) => REFUND_MOVING.has(r.status));
    if (moving) return contradicted(moving.status, payment.reference);
    return refunds.some((r) => r.status === claimed) ? { kind: 'none' } : contradicted(refunds.length ? refunds[0].status : 'none', payment.reference);
  }
  return { kind: 'none' };
}
