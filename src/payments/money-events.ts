import { bookingAudience, userChannel } from '../events/audience';
import type { Emit } from '../events/event-publisher';
import type { PaymentRow } from './payment-repository';
import type { PaymentStatus, PayoutStatus } from '../contract/vocabulary';
import type { PayoutRow } from './payout-repository';

/** `payment.status_changed`, to the client and the provider of the booking. */
export function emitPaymentStatus(
  emit: Emit,
  p: PaymentRow,
  parties: { clientId: string; providerId: string },
  previousStatus: PaymentStatus | null,
  status: PaymentStatus,
): void {
  emit({
    type: 'payment.status_changed',
    audience: bookingAudience('payment.status_changed', parties.clientId, parties.providerId),
    payload: {
      bookingId: String(p.booking_id),
      paymentId: String(p.id),
      reference: p.reference,
      status,
      previousStatus,
      amount: Number(p.amount),
      currency: p.currency,
      // What went back to the client so far by partial refunds and chargebacks.
      refundedAmount: Number(p.refunded_amount ?? 0) + Number(p.charged_back_amount ?? 0),
    },
  });
}

/**
 * `payment.partially_refunded`: part of the charge went back to the client; the rest stays where
 * it was (held, or released to a payout that is smaller by as much). To both parties and admins;
 * it names no payout amount, which only the provider may see (on the payout's own events).
 */
export function emitPartialRefund(
  emit: Emit,
  p: PaymentRow,
  parties: { clientId: string; providerId: string },
  o: { amount: number; refundedAmount: number; heldAmount: number; cause: 'REFUND' | 'CARD_DISPUTE' },
): void {
  emit({
    type: 'payment.partially_refunded',
    audience: bookingAudience('payment.partially_refunded', parties.clientId, parties.providerId),
    payload: {
      bookingId: String(p.booking_id),
      paymentId: String(p.id),
      reference: p.reference,
      status: p.status,
      currency: p.currency,
      chargeAmount: Number(p.amount),
      ...o,
    },
  });
}

/** `payout.status_changed`, to the provider only: a client has no business seeing payouts. */
export function emitPayoutStatus(emit: Emit, p: PayoutRow, previousStatus: PayoutStatus | null, status: PayoutStatus, reason?: string | null): void {
  emit({
    type: 'payout.status_changed',
    audience: [userChannel(p.provider_id)],
    payload: {
      payoutId: String(p.id),
      bookingId: String(p.booking_id),
      reference: p.reference,
      status,
      previousStatus,
      amount: Number(p.amount),
      currency: p.currency,
      ...(reason ? { reason } : {}),
    },
  });
}
