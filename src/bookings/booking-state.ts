import { z } from 'zod';
import { BookingStatus } from '../contract/vocabulary';

// EXPIRED: a PENDING request nobody answered in time (BOOKING_REQUEST_TTL_HOURS); terminal, and
export const BookingAction = z.enum(['accept', 'reject', 'start', 'complete', 'cancel', 'confirm-completion', 'dispute']);
export type BookingAction = z.infer<typeof BookingAction>;

export type Party = 'client' | 'provider';

interface Rule {
  from: readonly BookingStatus[];
  /** Where the booking goes; absent when it stays where it is. */
  to?: BookingStatus;
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
  'confirm-completion': { from: ['COMPLETED'], by: ['client'], event: 'booking.completion_confirmed' },
  // The client holds escrow (work not done, or not as agreed) until an admin decides.
  dispute: { from: ['CONFIRMED', 'IN_PROGRESS', 'COMPLETED'], by: ['client'], event: 'booking.disputed' },
};

export type Decision =
  { ok: true; to: BookingStatus; event?: string } | { ok: false; error: 'NOT_A_PARTY' | 'WRONG_PARTY' | 'INVALID_TRANSITION' | 'REQUEST_EXPIRED' };

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
  // Its own code, so a client can say "this request expired" rather than a generic conflict.
  if (booking.status === 'EXPIRED') return { ok: false, error: 'REQUEST_EXPIRED' };
  if (!rule.from.includes(booking.status)) return { ok: false, error: 'INVALID_TRANSITION' };
  return { ok: true, to: rule.to ?? booking.status, event: rule.event };
}

/**
 * When a provider may start: from `earlyMinutes` before the booking's time. Null when now is
 * fine, else the earliest start, so work (and with it the path to releasing escrow) cannot be
 * marked done days before it is due.
 */
export function earliestStart(scheduledFor: Date, now: number, earlyMinutes: number): Date | null {
  const earliest = scheduledFor.getTime() - earlyMinutes * 60_000;
  return now < earliest ? new Date(earliest) : null;
}

/** Auto-release counts from the later of completion and the booking's own time. */
export function autoReleaseAt(completedAt: Date, scheduledFor: Date, hours: number): Date {
  return new Date(Math.max(completedAt.getTime(), scheduledFor.getTime()) + hours * 3_600_000);
}

/** Who may see a booking at all: its two parties and admins. Others get a 404, so existence does not leak. */
export function canViewBooking(booking: { clientId: string; providerId: string }, actor: { userId: string; role: string }): boolean {
  return actor.role === 'admin' || partyOf(booking, actor.userId) !== null;
}
