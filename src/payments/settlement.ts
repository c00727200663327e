import type { Knex } from 'knex';
import type { Emit } from '../events/event-publisher';
import type { Logger } from '../logger';
import { journalPayoutMove, movePayment, movePaymentThrough, payoutAmount } from './escrow';
import { chargebackLossEntry, partialChargebackEntry, post, refundPaidEntries } from './journal';
import { emitPartialRefund, emitPaymentStatus, emitPayoutStatus } from './money-events';
import { amountsOf, heldAmount, owedAmount } from './payment-amounts';
import {
  clearDispute,
  lockPaymentWithBooking,
  markChargeback,
  markDisputeOpened,
  setPaymentStatus,
  setRefundFailure,
  setReturnedAmounts,
  type PaymentBooking,
  type PaymentRow,
} from './payment-repository';
import { canMovePayment } from './payment-state';
import { lockPayoutByPayment, lockPayoutByReference, setPayoutAmount, setPayoutStatus } from './payout-repository';
import { bookingAudience } from '../events/audience';
import { canMovePayout } from './payout-state';
import type { PayoutStatus } from '../contract/vocabulary';
import type { VerifiedTransaction } from './paystack-client';
import type { FollowUp } from './paystack-follow-ups';
import { CALLED_OFF } from '../contract/vocabulary';

export type SettleOutcome = 'processed' | 'no_change' | 'unknown_reference' | 'flagged';

/** Paystack's statuses of a charge that ended without the money being taken (or kept). */
export const CHARGE_ENDED_UNPAID: ReadonlySet<string> = new Set(['abandoned', 'failed', 'reversed']);

/**
 * What Paystack tells us, applied to our records: the same code whether the news came by webhook
 * or by reconciliation asking, so a late webhook after reconciliation is a no-op, not a second effect.
 * Each runs inside the caller's transaction.
 */
export async function settleCharge(
  trx: Knex.Transaction,
  emit: Emit,
  reference: string | undefined,
  verified: VerifiedTransaction | undefined,
  logger: Logger,
): Promise<{ outcome: SettleOutcome; followUp?: FollowUp }> {
  const locked = await lockPaymentWithBooking(trx, reference);
  if (!locked || !verified) return { outcome: 'unknown_reference' };
  const { payment: found, booking } = locked;
  const parties = { clientId: booking.client_id, providerId: booking.provider_id };
  if (found.status !== 'PENDING') return { outcome: 'no_change' };
  // What was really taken, and Paystack's fee, written with the status: an operator deciding a
  // flagged charge needs the first, the journal both. Only a successful charge took anything.
  const taken = verified.status === 'success' ? { verified_amount: verified.amount, verified_currency: verified.currency, paystack_fees: verified.fees } : {};
  if (verified.status === 'success') {
    found.verified_amount = String(verified.amount);
    found.verified_currency = verified.currency;
    found.paystack_fees = verified.fees === null ? null : String(verified.fees);
  }

  if (verified.status !== 'success' && verified.reference === found.reference) {
    // Paystack's verify says no money was taken (whatever the webhook said): nothing for an
    // operator to decide. A charge that ended unpaid fails, and the client may pay afresh; one
    // still under way stays PENDING for the reconciler to ask about again.
    logger.warn({ code: 'CHARGE_NOT_SUCCESSFUL', paymentId: found.id, paystackStatus: verified.status }, 'Paystack verifies no successful charge');
    if (!CHARGE_ENDED_UNPAID.has(verified.status)) return { outcome: 'no_change' };
    await movePayment(trx, emit, found, parties, 'FAILED');
    return { outcome: 'processed' };
  }
  const matches =
    verified.status === 'success' && verified.reference === found.reference && verified.amount === Number(found.amount) && verified.currency === found.currency;
  if (!matches) {
    logger.error(
      {
        code: 'PAYMENT_AMOUNT_MISMATCH',
        paymentId: found.id,
        expected: { amount: Number(found.amount), currency: found.currency },
        verified: { amount: verified.amount, currency: verified.currency, status: verified.status },
      },
      'charge does not match our record; payment flagged',
    );
    await movePayment(trx, emit, found, parties, 'FLAGGED', taken);
    return { outcome: 'flagged' };
  }
  const extra = { paystack_transaction_id: verified.id, ...taken };
  if (CALLED_OFF.includes(booking.status)) {
    // Paid for a booking that no longer exists: the money goes back.
    await movePaymentThrough(trx, emit, found, parties, ['PAID', 'REFUND_PENDING'], extra);
    return { outcome: 'processed', followUp: { kind: 'refund', paymentId: found.id } };
  }
  await movePaymentThrough(trx, emit, found, parties, ['PAID', 'ESCROW'], extra);
  return { outcome: 'processed' };
}

export async function settleTransfer(
  trx: Knex.Transaction,
  emit: Emit,
  reference: string | undefined,
  to: PayoutStatus,
  transferCode?: string,
): Promise<SettleOutcome> {
  const payout = reference ? await lockPayoutByReference(trx, reference) : undefined;
  if (!payout) return 'unknown_reference';
  if (!canMovePayout(payout.status, to)) return 'no_change';
  const reason = to === 'FAILED' ? 'TRANSFER_FAILED' : to === 'REVERSED' ? 'TRANSFER_REVERSED' : null;
  await setPayoutStatus(trx, payout.id, to, { transfer_code: transferCode ?? payout.transfer_code ?? undefined, reason });
  await journalPayoutMove(trx, payout, payout.status, to);
  emitPayoutStatus(emit, payout, payout.status, to, reason);
  return 'processed';
}

/**
 * Refunds Paystack has processed for a charge, `processed` cents in all. Paystack's own list of
 * refunds is the measure (the webhook's settling and the reconciler both read it), so however
 * often the news comes, a refund is counted once. A refund we requested is done when its target is
 * reached: all of it (REFUNDED), or part (back to ESCROW, the rest still held). A refund made in
 * Paystack's dashboard comes out of escrow, whole or in part.
 */
export async function settleRefund(trx: Knex.Transaction, emit: Emit, reference: string | undefined, processed: number): Promise<SettleOutcome> {
  const locked = await lockPaymentWithBooking(trx, reference);
  if (!locked) return 'unknown_reference';
  const { payment, booking } = locked;
  if (payment.status !== 'REFUND_PENDING' && payment.status !== 'ESCROW') return 'no_change';
  const before = amountsOf(payment);
  const newly = Math.min(processed, before.amount - before.chargedBack) - before.refunded;
  if (newly <= 0) return 'no_change';
  const owed = payment.status === 'REFUND_PENDING' ? owedAmount(before) : 0;
  const fromOwed = Math.min(newly, owed);
  const after = { ...before, refunded: before.refunded + newly };
  const held = heldAmount(after);
  const requestDone = payment.status === 'REFUND_PENDING' && newly >= owed;
  const to = held === 0 ? 'REFUNDED' : requestDone ? 'ESCROW' : payment.status;
  const row: PaymentRow = { ...payment, refunded_amount: String(after.refunded) };
  const parties = { clientId: booking.client_id, providerId: booking.provider_id };
  await post(trx, { bookingId: String(booking.id), paymentId: String(payment.id), currency: payment.currency }, refundPaidEntries(fromOwed, newly - fromOwed));
  if (to === payment.status) {
    await setReturnedAmounts(trx, payment.id, { refunded_amount: after.refunded });
  } else {
    if (!canMovePayment(payment.status, to)) throw new Error(`payment ${payment.id} cannot move from ${payment.status} to ${to}`);
    await setPaymentStatus(trx, payment.id, to, { refunded_amount: after.refunded, refund_target: null, refund_failure: null, refund_failed_at: null });
    emitPaymentStatus(emit, row, parties, payment.status, to);
  }
  if (to !== 'REFUNDED') {
    emitPartialRefund(emit, { ...row, status: to }, parties, {
      amount: newly,
      refundedAmount: after.refunded + after.chargedBack,
      heldAmount: held,
      cause: 'REFUND',
    });
  }
  return 'processed';
}

/**
 * A refund did not go through (our request failed, or Paystack says failed or needs-attention):
 * the payment stays REFUND_PENDING and the reason is kept for the operators' queue. News from a
 * webhook (`checkNow`) makes the row due at once, so the reconciler asks Paystack before anything
 * is sent again; otherwise the row keeps its schedule. Admins hear of it the first time only.
 */
export async function recordRefundFailure(
  trx: Knex.Transaction,
  emit: Emit,
  reference: string | undefined,
  failure: 'REFUND_REQUEST_FAILED' | 'REFUND_FAILED' | 'REFUND_NEEDS_ATTENTION',
  o: { checkNow: boolean },
): Promise<SettleOutcome> {
  const locked = await lockPaymentWithBooking(trx, reference);
  if (!locked) return 'unknown_reference';
  const { payment, booking } = locked;
  if (payment.status !== 'REFUND_PENDING') return 'no_change';
  await setRefundFailure(trx, payment.id, failure, { firstFailure: !payment.refund_failure, checkNow: o.checkNow });
  if (payment.refund_failure !== failure) {
    emitToPartiesAndAdmins(emit, 'payment.refund_failing', payment, booking, { reason: failure });
  }
  return 'processed';
}

/** A checkout nobody paid, verified once more: it ends, and the booking may be paid afresh. */
export async function expireCheckout(trx: Knex.Transaction, emit: Emit, reference: string): Promise<SettleOutcome> {
  const locked = await lockPaymentWithBooking(trx, reference);
  if (!locked) return 'unknown_reference';
  const { payment, booking } = locked;
  if (payment.status !== 'PENDING') return 'no_change';
  await movePayment(trx, emit, payment, { clientId: booking.client_id, providerId: booking.provider_id }, 'EXPIRED');
  return 'processed';
}

/** The customer's bank disputes the charge: the payout freezes, both parties and admins are told. */
export async function settleDisputeOpened(
  trx: Knex.Transaction,
  emit: Emit,
  reference: string | undefined,
  disputeId: string | undefined,
): Promise<SettleOutcome> {
  const locked = await lockPaymentWithBooking(trx, reference);
  if (!locked) return 'unknown_reference';
  const { payment, booking } = locked;
  if (payment.disputed_at) return 'no_change';
  await markDisputeOpened(trx, payment.id, disputeId ?? null);
  emitToPartiesAndAdmins(emit, 'payment.dispute_opened', payment, booking, {});
  return 'processed';
}

/**
 * The dispute ends. Merchant won ("declined"): the freeze lifts and a waiting payout is sent.
 * Customer won: the bank takes back `refundAmount` (the whole charge when Paystack names none).
 * All of what is held: the payment is refunded and a payout that had not gone out fails. Part of
 * it: the rest stays held, or a waiting payout is made smaller and sent. After the payout went out,
 * what the bank took is a chargeback loss for the operators. A payout to send is the follow-up.
 */
export async function settleDisputeResolved(
  trx: Knex.Transaction,
  emit: Emit,
  reference: string | undefined,
  resolution: string | undefined,
  refundAmount: number | undefined,
  logger: Logger,
): Promise<{ outcome: SettleOutcome; followUp?: FollowUp }> {
  const locked = await lockPaymentWithBooking(trx, reference);
  if (!locked) return { outcome: 'unknown_reference' };
  const { payment, booking } = locked;
  if (!payment.disputed_at) return { outcome: 'no_change' };
  await clearDispute(trx, payment.id);
  const merchantWon = resolution === 'declined';
  const amounts = amountsOf(payment);
  const held = heldAmount(amounts);
  const taken = refundAmount !== undefined && Number.isSafeInteger(refundAmount) && refundAmount > 0 ? Math.min(refundAmount, held) : held;
  emitToPartiesAndAdmins(emit, 'payment.dispute_resolved', payment, booking, {
    resolution: resolution ?? null,
    merchantWon,
    ...(merchantWon ? {} : { refundAmount: taken }),
  });
  const payout = await lockPayoutByPayment(trx, payment.id);
  if (merchantWon) return { outcome: 'processed', followUp: payout?.status === 'PENDING' ? { kind: 'transfer', payoutId: payout.id } : undefined };
  const parties = { clientId: booking.client_id, providerId: booking.provider_id };
  const subject = {
    bookingId: String(booking.id),
    paymentId: String(payment.id),
    payoutId: payout ? String(payout.id) : undefined,
    currency: payment.currency,
  };
  if (payout && payout.status !== 'PENDING' && payout.status !== 'FAILED') {
    // The provider has been (or is being) paid: the bank took the charge back from us. A loss for
    // an operator to recover (it is in their queue), recorded as such rather than papered over by
    // marking the payment refunded.
    logger.error({ code: 'DISPUTE_LOST_AFTER_PAYOUT', paymentId: payment.id, payoutId: payout.id, amount: taken }, 'dispute lost after the payout went out');
    await markChargeback(trx, payment.id, Number(payment.chargeback_loss ?? 0) + taken);
    await post(trx, subject, [chargebackLossEntry(taken)]);
    emitToPartiesAndAdmins(emit, 'payment.chargeback_loss', payment, booking, { lossAmount: taken });
    return { outcome: 'processed' };
  }
  if (taken < held && (payment.status === 'ESCROW' || payment.status === 'RELEASED')) {
    const chargedBack = amounts.chargedBack + taken;
    const rest = held - taken;
    let followUp: FollowUp | undefined;
    if (payment.status === 'RELEASED' && payout) {
      // The waiting payout is what is left, less the fee at the payout's own rate.
      const smaller = payout.fee_bps === null ? Math.floor((Number(payout.amount) * rest) / held) : payoutAmount(rest, payout.fee_bps);
      await post(trx, subject, [partialChargebackEntry(taken, { payoutCut: Number(payout.amount) - smaller })]);
      await setPayoutAmount(trx, payout.id, smaller);
      if (payout.status === 'PENDING') followUp = { kind: 'transfer', payoutId: payout.id };
    } else {
      await post(trx, subject, [partialChargebackEntry(taken, null)]);
    }
    await setReturnedAmounts(trx, payment.id, { charged_back_amount: chargedBack });
    const row = { ...payment, charged_back_amount: String(chargedBack) };
    emitPartialRefund(emit, row, parties, { amount: taken, refundedAmount: amounts.refunded + chargedBack, heldAmount: rest, cause: 'CARD_DISPUTE' });
    return { outcome: 'processed', followUp };
  }
  const share = payout ? { payoutId: String(payout.id), amount: Number(payout.amount) } : undefined;
  if (payment.status === 'ESCROW' || payment.status === 'RELEASED') {
    await movePaymentThrough(trx, emit, payment, parties, ['REFUNDED'], { charged_back_amount: amounts.chargedBack + held }, share);
  }
  if (payout && payout.status === 'PENDING') {
    await setPayoutStatus(trx, payout.id, 'FAILED', { reason: 'DISPUTE_LOST' });
    await journalPayoutMove(trx, payout, payout.status, 'FAILED');
    emitPayoutStatus(emit, payout, payout.status, 'FAILED', 'DISPUTE_LOST');
  }
  return { outcome: 'processed' };
}

/** A money event about a booking, to those `bookingAudience` names. */
function emitToPartiesAndAdmins(emit: Emit, type: string, payment: PaymentRow, booking: PaymentBooking, extra: Record<string, unknown>): void {
  emit({
    type,
    audience: bookingAudience(type, booking.client_id, booking.provider_id),
    payload: {
      bookingId: String(booking.id),
      paymentId: String(payment.id),
      reference: payment.reference,
      amount: Number(payment.amount),
      currency: payment.currency,
      ...extra,
    },
  });
}
