import { z } from 'zod';
import type { BookingStatus } from '../contract/vocabulary';

/**
 * What time does to a booking, as plain rules: which timers a booking gets, when each falls due,
 * and what a due timer does to the booking as it is then. The booking clock (booking-clock.ts)
 * stores them in `booking_timers` and fires them; nothing here touches the database.
 */
export const TimerKind = z.enum(['request_reminder', 'request_expiry', 'visit_24h', 'visit_1h']);
export type TimerKind = z.infer<typeof TimerKind>;

const HOUR = 3_600_000;

/** How long before `scheduledFor` each visit reminder falls due, largest first. */
export const VISIT_REMINDERS: ReadonlyArray<{ kind: TimerKind; hoursBefore: number }> = [
  { kind: 'visit_24h', hoursBefore: 24 },
  { kind: 'visit_1h', hoursBefore: 1 },
];

/**
 * Bookings that are going ahead and so are reminded of. Accepting moves a request to CONFIRMED,
 * and paying into escrow leaves it there, so CONFIRMED covers "accepted" and "paid" alike.
 * IN_PROGRESS is left out: the work has started, there is nothing left to be reminded of.
 */
export const GOING_AHEAD: readonly BookingStatus[] = ['CONFIRMED'];

export interface Timer {
  kind: TimerKind;
  dueAt: Date;
}

/** When an unanswered request expires: after the TTL, and never later than the booking's own time. */
export function requestExpiresAt(createdAt: Date, scheduledFor: Date, ttlHours: number): Date {
  return new Date(Math.min(createdAt.getTime() + ttlHours * HOUR, scheduledFor.getTime()));
}

/**
 * A new request's timers: its expiry, and the provider's reminder halfway to it. Halfway to the
 * actual expiry, not to the full TTL: a request for a booking soon expires early, and a reminder
 * at half the TTL would come after it.
 */
export function timersOnRequest(createdAt: Date, scheduledFor: Date, ttlHours: number): Timer[] {
  const expiresAt = requestExpiresAt(createdAt, scheduledFor, ttlHours);
  const remindAt = new Date(createdAt.getTime() + (expiresAt.getTime() - createdAt.getTime()) / 2);
  return [
    ...(remindAt.getTime() > createdAt.getTime() ? [{ kind: 'request_reminder' as const, dueAt: remindAt }] : []),
    { kind: 'request_expiry', dueAt: expiresAt },
  ];
}

/**
 * An accepted booking's reminders before its time. One whose time has already passed is not
 * scheduled: a booking accepted an hour ahead gets no "tomorrow" reminder after the fact.
 */
export function timersOnAccept(acceptedAt: Date, scheduledFor: Date): Timer[] {
  return VISIT_REMINDERS.map(({ kind, hoursBefore }) => ({ kind, dueAt: new Date(scheduledFor.getTime() - hoursBefore * HOUR) })).filter(
    (t) => t.dueAt.getTime() > acceptedAt.getTime(),
  );
}

export type TimerOutcome = { do: 'expire' } | { do: 'remind-provider'; expiresAt: Date } | { do: 'remind-both'; hoursBefore: number } | { do: 'nothing' };

/**
 * What a due timer does to the booking as it is now (under its row lock). A request answered or
 * withdrawn meanwhile is not expired or reminded; a booking no longer going ahead is not reminded;
 * a visit reminder overtaken by a later one (the server was down) or by the booking's time is
 * dropped, so nobody is told "tomorrow" an hour before.
 */
export function timerOutcome(
  timer: { kind: TimerKind; dueAt: Date },
  booking: { status: BookingStatus; createdAt: Date; scheduledFor: Date },
  now: number,
): TimerOutcome {
  switch (timer.kind) {
    case 'request_expiry':
      return booking.status === 'PENDING' ? { do: 'expire' } : { do: 'nothing' };
    case 'request_reminder': {
      // The reminder was set halfway to the expiry, so the expiry is as far past it again (the
      // TTL it was set with, whatever BOOKING_REQUEST_TTL_HOURS says now).
      const expiresAt = new Date(2 * timer.dueAt.getTime() - booking.createdAt.getTime());
      return booking.status === 'PENDING' && now < expiresAt.getTime() ? { do: 'remind-provider', expiresAt } : { do: 'nothing' };
    }
    case 'visit_24h':
    case 'visit_1h': {
      if (!GOING_AHEAD.includes(booking.status)) return { do: 'nothing' };
      const i = VISIT_REMINDERS.findIndex((r) => r.kind === timer.kind);
      const next = VISIT_REMINDERS[i + 1];
      const staleFrom = booking.scheduledFor.getTime() - (next ? next.hoursBefore * HOUR : 0);
      return now < staleFrom ? { do: 'remind-both', hoursBefore: VISIT_REMINDERS[i].hoursBefore } : { do: 'nothing' };
    }
  }
}
