import type { Principal } from '../auth/principal';

/** Which side a cancel came from, so the other side is told who cancelled (not only that it was). */
export type CancelledBy = 'client' | 'provider' | 'operator';

export function cancelledBy(p: Principal, booking: { clientId: string; providerId: string }): CancelledBy {
  if (p.userId === booking.clientId) return 'client';
  if (p.userId === booking.providerId) return 'provider';
  return 'operator';
}
