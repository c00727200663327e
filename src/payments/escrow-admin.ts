import { z } from 'zod';
import type { Principal } from '../auth/principal';
import { bookingAudience } from '../events/audience';
import type { EventPublisher } from '../events/event-publisher';
import { AppError } from '../errors/app-error';
import { recordAdminAction } from './attention-repository';
import { movePayment, releaseEscrow } from './escrow';
import { clearRefundFailure, lockPaymentBooking, lockPaymentByBooking, setVerifiedAmount } from './payment-repository';
import type { PaymentFollowUps } from './payment-service';
import { runFollowUp, type FollowUp } from './paystack-follow-ups';
import { amountsOf, heldAmount } from './payment-amounts';

/**
 * What an operator may do with a booking's money:
 *   accept-flagged  a FLAGGED charge: the amount Paystack verified goes into escrow (same currency only)
 *   refund          a FLAGGED or escrowed payment goes back to the client: in full, or (escrow only)
 *                   `amount` cents of it, the rest staying in escrow
 *   release         escrow goes to the provider (less the fee), whatever the booking's state
 *   retry-refund    a refund that failed is requested again now
 */
export const AdminAction = z.enum(['accept-flagged', 'refund', 'release', 'retry-refund']);
export type AdminAction = z.infer<typeof AdminAction>;

export const AdminActionRequest = z.strictObject({
  reason: z.string().trim().min(1).max(500),
  /** refund only: the cents to give back, when not all that is held. */
  amount: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
});
export type AdminActionRequest = z.infer<typeof AdminActionRequest>;

/**
 * Operators' decisions on money that waits for a person. Each takes a reason, is recorded (who,
 * when, why) in the same transaction as its effect, and both parties and the other admins hear of
 * it (`booking.admin_action`). Paystack is called after the commit, as everywhere.
 */
export class EscrowAdmin {
  constructor(
    private readonly publisher: EventPublisher,
    private readonly payments: PaymentFollowUps,
    private readonly feeBps: number,
  ) {}

  async act(
    p: Principal,
    bookingId: string,
    action: AdminAction,
    { reason, amount: part }: AdminActionRequest,
  ): Promise<{ bookingId: string; action: AdminAction; paymentStatus: string }> {
    if (p.role !== 'admin') throw new AppError('FORBIDDEN', 'Only admins can act on escrow');
    if (part !== undefined && action !== 'refund') {
      throw new AppError('VALIDATION_FAILED', 'Request is invalid', [{ path: 'amount', code: 'custom', message: 'only a refund takes an amount' }]);
    }
    const { result } = await this.publisher.transaction(async (trx, emit) => {
      const booking = await lockPaymentBooking(trx, bookingId);
      if (!booking) throw new AppError('NOT_FOUND', 'Booking not found');
      const payment = await lockPaymentByBooking(trx, bookingId);
      const refuse = (why: string) => new AppError('INVALID_TRANSITION', why, { currentStatus: booking.status, paymentStatus: payment?.status ?? null });
      if (!payment) throw refuse('This booking has no payment');
      const parties = { clientId: booking.client_id, providerId: booking.provider_id, bookingId };
      let followUp: FollowUp | undefined;
      let status = payment.status;
      let refundAmount: number | undefined;
      switch (action) {
        case 'accept-flagged': {
          if (payment.status !== 'FLAGGED') throw refuse('Only a flagged payment can be accepted');
          if (payment.verified_currency !== payment.currency || !payment.verified_amount || Number(payment.verified_amount) <= 0) {
            throw refuse('Paystack verified no usable amount in this currency; refund it instead');
          }
          // What was really taken is what the escrow holds, and what the payout is made from.
          await setVerifiedAmount(trx, payment.id, Number(payment.verified_amount));
          await movePayment(trx, emit, { ...payment, amount: String(payment.verified_amount) }, parties, 'ESCROW');
          status = 'ESCROW';
          break;
        }
        case 'refund': {
          if (payment.status !== 'FLAGGED' && payment.status !== 'ESCROW') throw refuse('Only a flagged or escrowed payment can be refunded');
          if (payment.disputed_at) throw new AppError('DISPUTE_OPEN', 'A card dispute about this payment is open; the bank decides it');
          if (payment.status === 'FLAGGED' && payment.verified_amount !== null && payment.verified_currency === payment.currency) {
            // A flagged charge is refunded as taken, not as booked.
            await setVerifiedAmount(trx, payment.id, Number(payment.verified_amount));
            payment.amount = String(payment.verified_amount);
          }
          const amounts = amountsOf(payment);
          const held = heldAmount(amounts);
          if (part !== undefined && part > held) {
            throw new AppError('AMOUNT_EXCEEDS_HELD', 'The refund is more than the payment holds', { heldAmount: held, currency: payment.currency });
          }
          const partial = part !== undefined && part < held;
          if (partial && payment.status !== 'ESCROW') throw refuse('Only money in escrow can be refunded in part');
          // A partial refund's target: what has gone back by refunds once it is processed.
          await movePayment(trx, emit, payment, parties, 'REFUND_PENDING', partial ? { refund_target: amounts.refunded + part } : {});
          followUp = { kind: 'refund', paymentId: payment.id };
          status = 'REFUND_PENDING';
          refundAmount = part ?? held;
          break;
        }
        case 'release': {
          if (payment.status !== 'ESCROW') throw refuse('Only money in escrow can be released');
          if (payment.disputed_at) throw new AppError('DISPUTE_OPEN', 'A card dispute about this payment is open; the bank decides it');
          const payout = await releaseEscrow(trx, emit, payment, parties, this.feeBps);
          followUp = { kind: 'transfer', payoutId: payout.id };
          status = 'RELEASED';
          break;
        }
        case 'retry-refund':
          if (payment.status !== 'REFUND_PENDING') throw refuse('Only a pending refund can be retried');
          await clearRefundFailure(trx, payment.id);
          followUp = { kind: 'refund', paymentId: payment.id };
          break;
      }
      await recordAdminAction(trx, { actorId: p.userId, action, bookingId, paymentId: payment.id, reason });
      emit({
        type: 'booking.admin_action',
        audience: bookingAudience('booking.admin_action', booking.client_id, booking.provider_id),
        payload: {
          bookingId,
          action,
          reason,
          paymentStatus: status,
          amount: Number(payment.amount),
          currency: payment.currency,
          ...(refundAmount !== undefined && { refundAmount }),
        },
      });
      return { followUp, status };
    });
    if (result.followUp) await runFollowUp(this.payments, result.followUp);
    return { bookingId, action, paymentStatus: result.status };
  }
}
