import type { Knex } from 'knex';
import { bookingAudience, userChannel } from '../events/audience';
import type { Emit, EventPublisher } from '../events/event-publisher';
import { findBookingView, lockBookings, updateBookingStatus, type BookingRow } from './booking-repository';
import { emitBookingEvent } from './booking-service';
import { claimDueTimers, markTimersFired, type DueTimer } from './booking-timer-repository';
import { timerOutcome } from './booking-timers';

/** Timers claimed and fired in one transaction. */
const BATCH = 50;

export interface ClockCounts {
  expired: number;
  reminded: number;
  /** Due timers with nothing left to do: the request was answered, the booking called off or overtaken. */
  dropped: number;
}

/**
 * Fires the bookings' due timers (booking-timers.ts): unanswered requests expire, providers are
 * reminded of waiting requests, both parties of an upcoming booking. Timers live in PostgreSQL, so
 * they survive restarts; a batch is claimed with SKIP LOCKED and marked fired in the transaction
 * that publishes its events, so on any number of instances each timer fires once.
 */
export class BookingClock {
  constructor(private readonly publisher: EventPublisher) {}

  /** Every timer due by `now`, in batches; `now` is a parameter so tests can move the clock. */
  async runOnce(now = Date.now()): Promise<ClockCounts> {
    const counts: ClockCounts = { expired: 0, reminded: 0, dropped: 0 };
    for (;;) {
      const { result: claimed } = await this.publisher.transaction(async (trx, emit) => {
        const due = await claimDueTimers(trx, new Date(now), BATCH);
        const bookings = await lockBookings(
          trx,
          due.map((t) => t.booking_id),
        );
        for (const timer of due) await this.fire(trx, emit, timer, bookings.get(timer.booking_id)!, now, counts);
        await markTimersFired(
          trx,
          due.map((t) => t.id),
        );
        return due.length;
      });
      if (claimed < BATCH) return counts;
    }
  }

  private async fire(trx: Knex.Transaction, emit: Emit, timer: DueTimer, row: BookingRow, now: number, counts: ClockCounts): Promise<void> {
    const scheduledFor = new Date(row.scheduled_for);
    const outcome = timerOutcome(
      { kind: timer.kind, dueAt: new Date(timer.due_at) },
      { status: row.status, createdAt: new Date(row.created_at), scheduledFor },
      now,
    );
    const bookingId = String(row.id);
    switch (outcome.do) {
      case 'expire': {
        await updateBookingStatus(trx, bookingId, 'EXPIRED');
        // The row in `bookings` changes; later timers of this batch see the new status.
        row.status = 'EXPIRED';
        emitBookingEvent(emit, 'booking.expired', (await findBookingView(trx, bookingId))!, 'PENDING');
        counts.expired++;
        return;
      }
      case 'remind-provider':
        emit({
          type: 'booking.request_reminder',
          audience: [userChannel(row.provider_id)],
          payload: { bookingId, scheduledFor: scheduledFor.toISOString(), expiresAt: outcome.expiresAt.toISOString() },
        });
        counts.reminded++;
        return;
      case 'remind-both':
        emit({
          type: 'booking.reminder',
          audience: bookingAudience('booking.reminder', row.client_id, row.provider_id),
          payload: { bookingId, scheduledFor: scheduledFor.toISOString(), hoursBefore: outcome.hoursBefore },
        });
        counts.reminded++;
        return;
      case 'nothing':
        counts.dropped++;
    }
  }
}
