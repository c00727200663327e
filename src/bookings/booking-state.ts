import { z } from 'zod';

export const BookingStatus = z.enum(['PENDING', 'CONFIRMED', 'IN_PROGRESS', 'COMPLETED', 'REJECTED', 'CANCELLED']);
export type BookingStatus = z.infer<typeof BookingStatus>;

export const BookingAction = z.enum(['accept', 'reject', 'start', 'complete', 'cancel', 'confirm-completion']);
export type BookingAction = z.infer<typeof BookingAction>;

export type Party = 'client' | 'provider';

interface Rule {
  from: readonly BookingStatus[];
  to: BookingStatus;
  by: readonly Party[];
  /** The event announcing the move, to both parties; none when the status does not change. */
  event?: string;
}

/**
 * Every move a booking can make, who may make it, and the event it publishes. The one place these
 * rules live: routes, services and tests all ask `decideBookingAction`.
 */
export const BOOKING_RULES: Readonly<Record<BookingAction, Rule>> = {
  accept: { from: ['PENDING'], to: 'CONFIRMED', by: ['provider'], event: 'booking.accepted' },
  reject: { from: ['PENDING'], to: 'REJECTED', by: ['provider'], event: 'booking.rejected' },
  start: { from: ['CONFIRMED'], to: 'IN_PROGRESS', by: ['provider'], event: 'booking.started' },
  complete: { from: ['IN_PROGRESS'], to: 'COMPLETED', by: ['provider'], event: 'booking.completed' },
  cancel: { from: ['PENDING', 'CONFIRMED'], to: 'CANCELLED', by: ['client', 'provider'], event: 'booking.cancelled' },
  // Releases the escrowed payment; the booking itself stays COMPLETED.
  'confirm-completion': { from: ['COMPLETED'], to: 'COMPLETED', by: ['client'], event: 'booking.completion_confirmed' },
};

export type Decision =
  | { ok: true; to: BookingStatus; event?: string }
  | { ok: false; error: 'NOT_A_PARTY' | 'WRONG_PARTY' | 'INVALID_TRANSITION' };

/** Who the actor is to this booking, if anyone. */
export function partyOf(booking: { clientId: string; providerId: string }, userId: string): Party | null {
  if (booking.providerId === userId) return 'provider';
  if (booking.clientId === userId) return 'client';
  return null;
}

export function decideBookingAction(
  booking: { clientId: string; providerId: string; status: BookingStatus },
  actor: { userId: string; role: string },
  action: BookingAction,
): Decision {
  const rule = BOOKING_RULES[action];
  const party = partyOf(booking, actor.userId);
  if (party === null) return { ok: false, error: actor.role === 'admin' ? 'WRONG_PARTY' : 'NOT_A_PARTY' };
  if (!rule.by.includes(party)) return { ok: false, error: 'WRONG_PARTY' };
  if (!rule.from.includes(booking.status)) return { ok: false, error: 'INVALID_TRANSITION' };
  return { ok: true, to: rule.to, event: rule.event };
}

/** Who may see a booking at all: its two parties and admins. Others get a 404, so existence does not leak. */
export function canViewBooking(booking: { clientId: string; providerId: string }, actor: { userId: string; role: string }): boolean {
  return actor.role === 'admin' || partyOf(booking, actor.userId) !== null;
}
