import { GOING_AHEAD, requestExpiresAt, timerOutcome, timersOnAccept, timersOnRequest } from '../../src/bookings/booking-timers';
import { BookingStatus } from '../../src/contract/vocabulary';

const HOUR = 3_600_000;
const t0 = Date.parse('2026-12-07T08:00:00Z');
const at = (hours: number) => new Date(t0 + hours * HOUR);

describe('booking timers: what a request and an acceptance schedule', () => {
  it('expires a request after the TTL, or at its scheduledFor when that is sooner; fractions of an hour count', () => {
    expect(requestExpiresAt(at(0), at(72), 24)).toEqual(at(24));
    expect(requestExpiresAt(at(0), at(3), 24)).toEqual(at(3));
    expect(requestExpiresAt(at(0), at(72), 0.5)).toEqual(at(0.5));
  });

  it('reminds the provider halfway to the expiry', () => {
    expect(timersOnRequest(at(0), at(72), 24)).toEqual([
      { kind: 'request_reminder', dueAt: at(12) },
      { kind: 'request_expiry', dueAt: at(24) },
    ]);
    expect(timersOnRequest(at(0), at(2), 24)).toEqual([
      { kind: 'request_reminder', dueAt: at(1) },
      { kind: 'request_expiry', dueAt: at(2) },
    ]);
  });

  it('schedules the visit reminders still ahead at acceptance, and none already past', () => {
    expect(timersOnAccept(at(0), at(72))).toEqual([
      { kind: 'visit_24h', dueAt: at(48) },
      { kind: 'visit_1h', dueAt: at(71) },
    ]);
    expect(timersOnAccept(at(0), at(1.5))).toEqual([{ kind: 'visit_1h', dueAt: at(0.5) }]);
    expect(timersOnAccept(at(0), at(1))).toEqual([]);
    expect(timersOnAccept(at(0), at(0.5))).toEqual([]);
  });
});

describe('booking timers: what a due timer does to the booking as it is now', () => {
  const booking = (status: BookingStatus, scheduledHours = 72) => ({ status, createdAt: at(0), scheduledFor: at(scheduledHours) });
  const visit24 = { kind: 'visit_24h' as const, dueAt: at(48) };
  const visit1 = { kind: 'visit_1h' as const, dueAt: at(71) };

  it('expires only a request still PENDING', () => {
    for (const status of BookingStatus.options) {
      expect(timerOutcome({ kind: 'request_expiry', dueAt: at(24) }, booking(status), t0 + 24 * HOUR).do).toBe(status === 'PENDING' ? 'expire' : 'nothing');
    }
  });

  it('reminds the provider of a request still PENDING and not yet expired, naming the expiry it was set for', () => {
    const reminder = { kind: 'request_reminder' as const, dueAt: at(12) };
    expect(timerOutcome(reminder, booking('PENDING'), t0 + 12 * HOUR)).toEqual({ do: 'remind-provider', expiresAt: at(24) });
    expect(timerOutcome(reminder, booking('PENDING'), t0 + 24 * HOUR).do).toBe('nothing');
    expect(timerOutcome(reminder, booking('CONFIRMED'), t0 + 12 * HOUR).do).toBe('nothing');
    // Set with a half-hour TTL: the expiry it names is half an hour after the request.
    expect(timerOutcome({ kind: 'request_reminder', dueAt: at(0.25) }, booking('PENDING'), t0 + 0.25 * HOUR)).toEqual({
      do: 'remind-provider',
      expiresAt: at(0.5),
    });
  });

  it('reminds of bookings going ahead (CONFIRMED, paid or not) only', () => {
    expect(GOING_AHEAD).toEqual(['CONFIRMED']);
    for (const status of BookingStatus.options) {
      expect(timerOutcome(visit24, booking(status), t0 + 48 * HOUR).do).toBe(status === 'CONFIRMED' ? 'remind-both' : 'nothing');
    }
  });

  it('drops a visit reminder overtaken by the next one or by the booking itself', () => {
    expect(timerOutcome(visit24, booking('CONFIRMED'), t0 + 48 * HOUR)).toEqual({ do: 'remind-both', hoursBefore: 24 });
    expect(timerOutcome(visit24, booking('CONFIRMED'), t0 + 71 * HOUR).do).toBe('nothing');
    expect(timerOutcome(visit1, booking('CONFIRMED'), t0 + 71 * HOUR)).toEqual({ do: 'remind-both', hoursBefore: 1 });
    expect(timerOutcome(visit1, booking('CONFIRMED'), t0 + 72 * HOUR).do).toBe('nothing');
  });
});
