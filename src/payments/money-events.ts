import { userChannel } from '../events/audience';
import type { Emit } from '../events/event-publisher';
import type { PaymentRow } from './payment-repository';
import type { PaymentStatus } from './payment-state';
import type { PayoutRow } from './payout-repository';
import type { PayoutStatus } from './payout-state';

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
    audience: [userChannel(parties.clientId), userChannel(parties.providerId)],
    payload: {
      bookingId: String(p.booking_id),
      paymentId: String(p.id),
      reference: p.reference,
      status,
      previousStatus,
      amount: Number(p.amount),
      currency: p.currency,
    },
  });
}

/** `payout.status_changed`, to the provider only: a client has no business seeing payouts. */
export function emitPayoutStatus(
  emit: Emit,
  p: PayoutRow,
  previousStatus: PayoutStatus | null,
  status: PayoutStatus,
  reason?: string | null,
): void {
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
