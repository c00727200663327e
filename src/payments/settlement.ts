import type { Knex } from 'knex';
import type { Emit } from '../events/event-publisher';
import type { Logger } from '../logger';
import { journalPayoutMove, movePayment, movePaymentThrough } from './escrow';
import { chargebackLossEntry, post } from './journal';
import { emitPayoutStatus } from './money-events';
import { lockPaymentWithBooking, markChargeback, type PaymentBooking, type PaymentRow } from './payment-repository';
import { lockPayoutByReference, setPayoutStatus, type PayoutRow } from './payout-repository';
import { userChannel, roleChannel } from '../events/audience';
import { canMovePayout, type PayoutStatus } from './payout-state';
import type { VerifiedTransaction } from './paystack-client';
import { CALLED_OFF } from '../bookings/booking-state';

export type SettleOutcome = 'processed' | 'no_change' | 'unknown_reference' | 'flagged';

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
  requestRefund: (paymentId: string) => Promise<unknown>,
): Promise<{ outcome: SettleOutcome; followUp?: () => Promise<unknown> }> {
  const locked = await lockPaymentWithBooking(trx, reference);
  if (!locked || !verified) return { outcome: 'unknown_reference' };
  const { payment: found, booking } = locked;
  const parties = { clientId: booking.client_id, providerId: booking.provider_id };
  if (found.status !== 'PENDING') return { outcome: 'no_change' };
  // What was really taken, and Paystack's fee, written with the status: an operator deciding a
  // flagged charge needs the first, the journal both. Only a successful charge took anything.
  const taken =
    verified.status === 'success' ? { verified_amount: verified.amount, verified_currency: verified.currency, paystack_fees: verified.fees } : {};
  if (verified.status === 'success') {
    found.verified_amount = String(verified.amount);
    found.verified_currency = verified.currency;
    found.paystack_fees = verified.fees === null ? null : String(verified.fees);
  }

  const matches =
    verified.status === 'success' &&
    verified.reference === found.reference &&
    verified.amount === Number(found.amount) &&
    verified.currency === found.currency;
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
    return { outcome: 'processed', followUp: () => requestRefund(found.id) };
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

export async function settleRefund(trx: Knex.Transaction, emit: Emit, reference: string | undefined): Promise<SettleOutcome> {
  const locked = await lockPaymentWithBooking(trx, reference);
  if (!locked) return 'unknown_reference';
  const { payment, booking } = locked;
  if (payment.status !== 'REFUND_PENDING' && payment.status !== 'ESCROW') return 'no_change';
  await movePayment(trx, emit, payment, { clientId: booking.client_id, providerId: booking.provider_id }, 'REFUNDED', {
    refund_failure: null,
    refund_failed_at: null,
  });
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
  await trx('payments')
    .where({ id: payment.id })
    .update({
      refund_failure: failure,
      refund_failed_at: payment.refund_failure ? trx.raw('refund_failed_at') : trx.fn.now(),
      ...(o.checkNow ? { next_check_at: trx.fn.now() } : {}),
    });
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
  await trx('payments').where({ id: payment.id }).update({ disputed_at: trx.fn.now(), dispute_id: disputeId ?? null });
  emitToPartiesAndAdmins(emit, 'payment.dispute_opened', payment, booking, {});
  return 'processed';
}

/**
 * The dispute ends. Merchant won ("declined"): the freeze lifts and a waiting payout is sent.
 * Customer won (accepted): the money goes back; a payout that had not gone out fails.
 */
export async function settleDisputeResolved(
  trx: Knex.Transaction,
  emit: Emit,
  reference: string | undefined,
  resolution: string | undefined,
  logger: Logger,
): Promise<{ outcome: SettleOutcome; payoutToSend?: string }> {
  const locked = await lockPaymentWithBooking(trx, reference);
  if (!locked) return { outcome: 'unknown_reference' };
  const { payment, booking } = locked;
  if (!payment.disputed_at) return { outcome: 'no_change' };
  await trx('payments').where({ id: payment.id }).update({ disputed_at: null });
  const merchantWon = resolution === 'declined';
  emitToPartiesAndAdmins(emit, 'payment.dispute_resolved', payment, booking, { resolution: resolution ?? null, merchantWon });
  const payout: PayoutRow | undefined = await trx('payouts').where({ payment_id: payment.id }).forUpdate().first();
  if (merchantWon) return { outcome: 'processed', payoutToSend: payout?.status === 'PENDING' ? payout.id : undefined };
  const parties = { clientId: booking.client_id, providerId: booking.provider_id };
  if (payout && payout.status !== 'PENDING' && payout.status !== 'FAILED') {
    // The provider has been (or is being) paid: the bank took the charge back from us. A loss for
    // an operator to recover (it is in their queue), recorded as such rather than papered over by
    // marking the payment refunded.
    logger.error({ code: 'DISPUTE_LOST_AFTER_PAYOUT', paymentId: payment.id, payoutId: payout.id }, 'dispute lost after the payout went out');
    await markChargeback(trx, payment.id);
    await post(trx, { bookingId: String(booking.id), paymentId: String(payment.id), payoutId: String(payout.id), currency: payment.currency }, [
      chargebackLossEntry(Number(payment.amount)),
    ]);
    emitToPartiesAndAdmins(emit, 'payment.chargeback_loss', payment, booking, {});
    return { outcome: 'processed' };
  }
  const share = payout ? { payoutId: String(payout.id), amount: Number(payout.amount) } : undefined;
  if (payment.status === 'ESCROW' || payment.status === 'RELEASED') await movePaymentThrough(trx, emit, payment, parties, ['REFUNDED'], {}, share);
  if (payout && payout.status === 'PENDING') {
    await setPayoutStatus(trx, payout.id, 'FAILED', { reason: 'DISPUTE_LOST' });
    await journalPayoutMove(trx, payout, payout.status, 'FAILED');
    emitPayoutStatus(emit, payout, payout.status, 'FAILED', 'DISPUTE_LOST');
  }
  return { outcome: 'processed' };
}

/** A money event both parties and the operators must hear of. */
function emitToPartiesAndAdmins(emit: Emit, type: string, payment: PaymentRow, booking: PaymentBooking, extra: Record<string, unknown>): void {
  emit({
    type,
    audience: [userChannel(booking.client_id), userChannel(booking.provider_id), roleChannel('admin')],
    payload: { bookingId: String(booking.id), paymentId: String(payment.id), reference: payment.reference, amount: Number(payment.amount), currency: payment.currency, ...extra },
  });
}
