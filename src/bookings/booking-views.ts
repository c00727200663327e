import type { Principal } from '../auth/principal';
import type { BookingView, ClientBookingView } from '../contract/views';

/** A booking as its client sees it: the payout is between the platform and the provider. */
export type { ClientBookingView };

/** Who a view is for: a principal, or every party to the booking at once (its `booking.*` events). */
export type BookingViewer = Pick<Principal, 'userId' | 'role'> | 'parties';

/**
 * The one place that decides what of a booking each audience sees. The provider and admins see
 * all of it; the client, and anything sent to both parties, sees no payout (`GET /api/payouts`
 * refuses clients the same facts). The provider learns of payouts from `payout.status_changed`.
 */
export function bookingViewFor(booking: BookingView, viewer: BookingViewer): BookingView | ClientBookingView {
  if (viewer !== 'parties' && (viewer.role === 'admin' || viewer.userId === booking.providerId)) return booking;
  const { payout: _payout, ...forClient } = booking;
  return forClient;
}
