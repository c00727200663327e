import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { Emit } from '../events/event-publisher';
import { AppError } from '../errors/app-error';
import { emitPaymentStatus, emitPayoutStatus } from './money-events';
import { setPaymentStatus, type PaymentExtra, type PaymentRow } from './payment-repository';
import { canMovePayment } from './payment-state';
import type { PaymentStatus, PayoutStatus } from '../contract/vocabulary';
import { insertPayout, type PayoutRow } from './payout-repository';
import { paymentEntries, payoutEntries, post } from './journal';
import { amountsOf, heldAmount, owedAmount } from './payment-amounts';

type Parties = { clientId: string; providerId: string };

/** Moves a locked payment and announces it, or refuses (409) a move its rules forbid. */
export async function movePayment(
  trx: Knex.Transaction,
  emit: Emit,
  payment: PaymentRow,
  parties: Parties,
  to: PaymentStatus,
  extra: PaymentExtra = {},
): Promise<PaymentRow> {
  return movePaymentThrough(trx, emit, payment, parties, [to], extra);
}

/** The payout a release or its reversal concerns: the provider's share of the payment. */
export type PayoutShare = { payoutId: string; amount: number };

/**
 * Moves a locked payment through several statuses at once (PENDING → PAID → ESCROW): each step
 * checked, journaled and announced as if made alone, and only the last written, in one UPDATE.
 * A release (to RELEASED) is journaled by `releaseEscrow`, which knows the payout; undoing one
 * (RELEASED → REFUNDED) needs `share`.
 */
export async function movePaymentThrough(
  trx: Knex.Transaction,
  emit: Emit,
  payment: PaymentRow,
  parties: Parties,
  steps: readonly PaymentStatus[],
  extra: PaymentExtra = {},
  share?: PayoutShare,
): Promise<PaymentRow> {
  let from = payment.status;
  for (const to of steps) {
    if (!canMovePayment(from, to)) {
      throw new AppError('INVALID_TRANSITION', `Payment cannot move from ${from} to ${to}`, { paymentStatus: from });
    }
    from = to;
  }
  await setPaymentStatus(trx, payment.id, from, extra);
  // A refund's target may be set by this very move.
  const amounts = amountsOf({
    ...payment,
    ...(extra.refund_target !== undefined && { refund_target: extra.refund_target === null ? null : String(extra.refund_target) }),
  });
  let previous = payment.status;
  for (const to of steps) {
    if (to !== 'RELEASED') {
      const entries = paymentEntries(previous, to, {
        amount: amounts.amount,
        held: heldAmount(amounts),
        owed: owedAmount(amounts),
        verifiedAmount: payment.verified_amount === null ? null : Number(payment.verified_amount),
        fees: payment.paystack_fees === null ? null : Number(payment.paystack_fees),
        payoutAmount: share?.amount,
      });
      await post(trx, { bookingId: String(payment.booking_id), paymentId: String(payment.id), payoutId: share?.payoutId, currency: payment.currency }, entries);
    }
    emitPaymentStatus(emit, payment, parties, previous, to);
    previous = to;
  }
  return { ...payment, status: from };
}

/** Journals a payout's move, in the transaction that writes it. */
export async function journalPayoutMove(trx: Knex.Transaction, payout: PayoutRow, from: PayoutStatus, to: PayoutStatus): Promise<void> {
  const subject = { bookingId: String(payout.booking_id), paymentId: String(payout.payment_id), payoutId: String(payout.id), currency: payout.currency };
  await post(trx, subject, payoutEntries(from, to, Number(payout.amount)));
}

/** The provider's share in cents: integer arithmetic, the platform's fee rounded in its favour. */
export function payoutAmount(amountCents: number, feeBps: number): number {
  return amountCents - Math.ceil((amountCents * feeBps) / 10_000);
}

/**
 * A transfer reference: used for every attempt of one transfer (Paystack dedupes on it), and
 * replaced only when an admin retries a transfer Paystack has finished with. 16-50 chars, [a-z0-9_-].
 */
export function newPayoutReference(bookingId: string): string {
  return `payout_${bookingId}_${crypto.randomBytes(8).toString('hex')}`;
}

/** Releases escrow and creates the payout, in the caller's transaction; the transfer comes after commit. */
export async function releaseEscrow(
  trx: Knex.Transaction,
  emit: Emit,
  payment: PaymentRow,
  parties: Parties & { bookingId: string },
  feeBps: number,
): Promise<PayoutRow> {
  await movePayment(trx, emit, payment, parties, 'RELEASED');
  // What partial refunds and chargebacks left is what is paid out, less the fee.
  const held = heldAmount(amountsOf(payment));
  const payout = await insertPayout(trx, {
    booking_id: parties.bookingId,
    payment_id: payment.id,
    provider_id: parties.providerId,
    reference: newPayoutReference(parties.bookingId),
    amount: payoutAmount(held, feeBps),
    currency: payment.currency,
    fee_bps: feeBps,
  });
  const entries = paymentEntries('ESCROW', 'RELEASED', {
    amount: Number(payment.amount),
    held,
    verifiedAmount: null,
    fees: null,
    payoutAmount: Number(payout.amount),
  });
  await post(trx, { bookingId: parties.bookingId, paymentId: String(payment.id), payoutId: String(payout.id), currency: payment.currency }, entries);
  emitPayoutStatus(emit, payout, null, 'PENDING');
  return payout;
}
