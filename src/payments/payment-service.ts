import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { Principal } from '../auth/principal';
import type { EventPublisher } from '../events/event-publisher';
import { AppError } from '../errors/app-error';
import type { Logger } from '../logger';
import type { BookingView } from '../contract/views';
import { findUser } from '../users/user-repository';
import { emitPaymentStatus, emitPayoutStatus } from './money-events';
import { journalPayoutMove, newPayoutReference } from './escrow';
import { clearRefundFailure, findPayment, findPaymentByBooking, insertPayment, type PaymentRow } from './payment-repository';
import { recordRefundFailure } from './settlement';
import { amountsOf, owedAmount } from './payment-amounts';
import { findPayout, lockPayout, setPayoutReference, setPayoutStatus } from './payout-repository';
import { canMovePayout } from './payout-state';
import { PaystackError, type PaystackClient } from './paystack-client';
import { runFollowUp, type FollowUp } from './paystack-follow-ups';

/** The Paystack calls that follow a committed booking move. */
export interface PaymentFollowUps {
  startTransfer(payoutId: string, o?: { resend?: boolean }): Promise<boolean>;
  requestRefund(paymentId: string): Promise<boolean>;
}

/** What a booking asks of payments: its checkout, and the Paystack calls after its moves. */
export interface BookingPayments extends PaymentFollowUps {
  initialize(p: Principal, booking: BookingToPay, email: string | undefined): Promise<PaymentInit>;
}

/** The booking being paid for, as bookings read it for its client (booking-service.ts `checkout`). */
export type BookingToPay = Pick<BookingView, 'id' | 'clientId' | 'providerId' | 'status' | 'amount' | 'currency'>;

export interface PaymentInit {
  reference: string;
  authorizationUrl: string;
  accessCode: string;
}

/**
 * Money in and out through Paystack. Every method calls Paystack first and writes afterwards,
 * each write a short transaction of its own.
 */
export class PaymentService implements BookingPayments {
  constructor(
    private readonly knex: Knex,
    private readonly publisher: EventPublisher,
    private readonly paystack: PaystackClient | null,
    private readonly logger: Logger,
  ) {}

  private client(): PaystackClient {
    if (!this.paystack) throw new AppError('PAYMENT_PROVIDER_UNAVAILABLE', 'Payments are not configured (PAYSTACK_SECRET_KEY)');
    return this.paystack;
  }

  /** The client's checkout for its booking; a second call returns the same pending payment. */
  async initialize(p: Principal, booking: BookingToPay, email: string | undefined): Promise<PaymentInit> {
    const bookingId = booking.id;
    const existing = await findPaymentByBooking(this.knex, bookingId);
    // A checkout that expired or failed no longer counts: the client starts a new one.
    if (existing && existing.status !== 'EXPIRED' && existing.status !== 'FAILED') {
      if (existing.status !== 'PENDING') {
        throw new AppError('INVALID_TRANSITION', 'This booking is already paid', { paymentStatus: existing.status });
      }
      return toInit(existing);
    }
    if (booking.status !== 'CONFIRMED') {
      throw new AppError('INVALID_TRANSITION', 'A booking can be paid once the provider has accepted it', {
        currentStatus: booking.status,
      });
    }
    const payer = email ?? p.email ?? (await findUser(this.knex, p.userId))?.email ?? undefined;
    if (!payer) throw new AppError('EMAIL_REQUIRED', 'An email is needed to pay: put one in the token or the body');

    const reference = `bk${bookingId}-${crypto
      .randomBytes(9)
      .toString('base64url')
      .replace(/[^A-Za-z0-9]/g, '0')}`;
    const init = await this.call('transaction.initialize', () =>
      this.client().initializeTransaction({
        email: payer,
        amount: booking.amount,
        currency: booking.currency,
        reference,
        metadata: { bookingId },
      }),
    );
    const { result } = await this.publisher.transaction(async (trx, emit) => {
      const row = await insertPayment(trx, {
        booking_id: bookingId,
        reference,
        status: 'PENDING',
        amount: booking.amount,
        currency: booking.currency,
        email: payer,
        authorization_url: init.authorizationUrl,
        access_code: init.accessCode,
      });
      // A concurrent call won the race: answer with its payment, as a repeat call would get.
      if (!row) return (await findPaymentByBooking(trx, bookingId))!;
      emitPaymentStatus(emit, row, booking, null, 'PENDING');
      return row;
    });
    return toInit(result);
  }

  /**
   * Sends the payout's transfer (with its one reference). `resend` is for reconciliation: a
   * PROCESSING payout whose transfer Paystack has never seen is sent again, same reference.
   * True when the payout moved.
   */
  async startTransfer(payoutId: string, o: { resend?: boolean } = {}): Promise<boolean> {
    const payout = await findPayout(this.knex, payoutId);
    if (!payout || !(payout.status === 'PENDING' || (o.resend && payout.status === 'PROCESSING'))) return false;
    const payment = await findPayment(this.knex, payout.payment_id);
    if (payment?.disputed_at) {
      // Frozen: the transfer waits for the dispute's resolution (settlement.ts sends it then).
      this.logger.info({ code: 'PAYOUT_FROZEN_BY_DISPUTE', payoutId }, 'payout waits for a dispute');
      return false;
    }
    const provider = await findUser(this.knex, payout.provider_id);
    if (!provider?.payout_recipient_code) return this.settlePayout(payoutId, 'FAILED', { reason: 'NO_PAYOUT_ACCOUNT' });
    try {
      const t = await this.client().initiateTransfer({
        amount: Number(payout.amount),
        recipient: provider.payout_recipient_code,
        reference: payout.reference,
        reason: `Booking ${payout.booking_id}`,
        currency: payout.currency,
      });
      if (t.status === 'otp') {
        // OTP is on in the Paystack dashboard: no API call can finish this transfer, and a retry
        // would only fail the same way. A configuration error for the operator, told once.
        this.logger.error({ code: 'OTP_REQUIRED', payoutId }, 'Paystack wants an OTP for transfers; turn OTP off for automated payouts');
        return await this.settlePayout(payoutId, 'PROCESSING', { transfer_code: t.transferCode, reason: 'OTP_REQUIRED' });
      }
      return await this.settlePayout(payoutId, 'PROCESSING', { transfer_code: t.transferCode });
    } catch (err) {
      if (err instanceof PaystackError && err.code === 'PAYSTACK_REJECTED' && !(await this.transferExists(payout.reference))) {
        // Paystack's own words say why (e.g. "Your balance is not enough"): the operator needs them.
        this.logger.warn({ code: 'TRANSFER_REJECTED', payoutId, paystackMessage: err.message }, 'Paystack refused the transfer');
        return this.settlePayout(payoutId, 'FAILED', { reason: 'TRANSFER_REJECTED' });
      }
      // A timeout or an outage is an unknown outcome, not a failure: the transfer may have gone
      // out. PROCESSING until a webhook (or a verify) says what happened.
      this.logger.warn({ code: 'TRANSFER_OUTCOME_UNKNOWN', payoutId, err }, 'transfer outcome unknown');
      return this.settlePayout(payoutId, 'PROCESSING');
    }
  }

  /**
   * An admin retries a FAILED or REVERSED payout: a new transfer reference (the old transfer is
   * final at Paystack), back to PENDING, and the transfer is sent. The row lock and the state check
   * mean two retries never put two transfers in flight.
   */
  async retryPayout(p: Principal, payoutId: string): Promise<void> {
    if (p.role !== 'admin') throw new AppError('FORBIDDEN', 'Only admins can retry payouts');
    const { result: followUp } = await this.publisher.transaction(async (trx, emit): Promise<FollowUp> => {
      const payout = await lockPayout(trx, payoutId);
      if (!payout) throw new AppError('NOT_FOUND', 'Payout not found');
      if (payout.status !== 'FAILED' && payout.status !== 'REVERSED') {
        throw new AppError('INVALID_TRANSITION', `A ${payout.status} payout cannot be retried`, { currentStatus: payout.status });
      }
      // Only money that is still ours to pay out: not a payment refunded after a lost dispute.
      const payment = await findPayment(trx, payout.payment_id);
      if (payment?.status !== 'RELEASED' || payment.disputed_at) {
        throw new AppError('INVALID_TRANSITION', 'The payment behind this payout is not released', {
          currentStatus: payout.status,
          paymentStatus: payment?.status ?? null,
        });
      }
      const reference = newPayoutReference(String(payout.booking_id));
      await setPayoutStatus(trx, payoutId, 'PENDING', { reason: null });
      await journalPayoutMove(trx, payout, payout.status, 'PENDING');
      await setPayoutReference(trx, payoutId, reference);
      emitPayoutStatus(emit, { ...payout, reference }, payout.status, 'PENDING');
      return { kind: 'transfer', payoutId };
    });
    await runFollowUp(this, followUp);
  }

  /**
   * Paystack refuses a reused transfer reference rather than returning the transfer, so a retry
   * after a timeout is "rejected" although the money went out. Only a transfer Paystack does not
   * know is a real failure; if it cannot tell us, the outcome stays unknown.
   */
  private async transferExists(reference: string): Promise<boolean> {
    try {
      await this.client().verifyTransfer(reference);
      return true;
    } catch (err) {
      return !(err instanceof PaystackError && err.code === 'PAYSTACK_REJECTED');
    }
  }

  /**
   * Asks Paystack to refund a REFUND_PENDING payment. Not while a card dispute is open: the
   * customer's bank may reverse the charge itself, and both would pay the client back. A request
   * that fails leaves the payment REFUND_PENDING with the failure recorded, for the reconciler to
   * retry and the operators to see. True when the request was accepted.
   */
  async requestRefund(paymentId: string): Promise<boolean> {
    const payment = await findPayment(this.knex, paymentId);
    if (!payment || payment.status !== 'REFUND_PENDING') return false;
    if (payment.disputed_at) {
      this.logger.info({ code: 'REFUND_HELD_BY_DISPUTE', paymentId }, 'refund waits for the card dispute');
      return false;
    }
    try {
      // Always the amount: after a partial refund or chargeback, or for a partial refund, Paystack's
      // "whole remaining amount" is not what we owe.
      await this.client().refund({ transaction: payment.reference, amount: owedAmount(amountsOf(payment)) });
      if (payment.refund_failure) await clearRefundFailure(this.knex, paymentId);
      return true;
    } catch (err) {
      this.logger.error({ code: 'REFUND_REQUEST_FAILED', paymentId, err }, 'refund request failed; payment stays REFUND_PENDING');
      await this.publisher.transaction((trx, emit) => recordRefundFailure(trx, emit, payment.reference, 'REFUND_REQUEST_FAILED', { checkNow: false }));
      return false;
    }
  }

  /** Moves a payout if its rules allow (a webhook may have settled it first) and announces it. */
  async settlePayout(
    payoutId: string,
    to: 'PROCESSING' | 'FAILED' | 'COMPLETED' | 'REVERSED',
    extra: { transfer_code?: string; reason?: string } = {},
  ): Promise<boolean> {
    const { result } = await this.publisher.transaction(async (trx, emit) => {
      const payout = await lockPayout(trx, payoutId);
      if (!payout || !canMovePayout(payout.status, to)) return false;
      await setPayoutStatus(trx, payoutId, to, extra);
      await journalPayoutMove(trx, payout, payout.status, to);
      emitPayoutStatus(emit, payout, payout.status, to, extra.reason);
      return true;
    });
    return result;
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof PaystackError) {
        this.logger.warn({ code: err.code, call: what }, 'Paystack call failed');
        throw new AppError('PAYMENT_PROVIDER_UNAVAILABLE', 'The payment provider did not accept the request; try again', {
          provider: err.code,
        });
      }
      throw err;
    }
  }
}

const toInit = (p: PaymentRow): PaymentInit => ({
  reference: p.reference,
  authorizationUrl: p.authorization_url ?? '',
  accessCode: p.access_code ?? '',
});
