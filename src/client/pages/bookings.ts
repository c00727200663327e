import type { BookingView, ClientBookingView, SyncState } from '../../contract/views.js';
import type { EventTypeName } from '../../contract/event-names.js';
import type { EventEnvelope } from '../types.js';

/** A booking as the API sends it: the client's view, and the payout where the caller may see it. */
export type Booking = ClientBookingView & { payout?: BookingView['payout'] };

/** What the store reads of an event's data: `booking.*` and the money events (src/contract/events.ts). */
interface BookingEventData {
  booking?: Booking;
  bookingId?: string;
  paymentId?: string;
  payoutId?: string;
  reference?: string;
  status?: string;
  amount?: number;
  reason?: string;
}

/**
 * A dashboard's bookings, kept current from events: `booking.*` carry the whole booking, and the
 * money events carry the new payment or payout status. `changed` runs after every change.
 */
export class BookingStore {
  readonly byId = new Map<string, Booking>();

  constructor(private readonly changed: () => void) {}

  replaceAll(list: Booking[]): void {
    this.byId.clear();
    for (const b of list) this.byId.set(b.id, b);
    this.changed();
  }

  /** A booking from an answer or an event; an older copy (by updatedAt) never replaces a newer one. */
  upsert(b: Booking): void {
    const current = this.byId.get(b.id);
    if (current && Date.parse(current.updatedAt) > Date.parse(b.updatedAt)) return;
    // Money fields move without touching the booking's updatedAt; keep what the events told us.
    this.byId.set(
      b.id,
      current && Date.parse(current.updatedAt) === Date.parse(b.updatedAt)
        ? { ...b, payment: b.payment ?? current.payment, payout: b.payout ?? current.payout }
        : b,
    );
    this.changed();
  }

  /** Applies any event that concerns a booking; others are ignored. */
  apply(e: EventEnvelope): void {
    const d = (e.data ?? {}) as BookingEventData;
    if (e.type.startsWith('booking.') && d.booking) return this.upsert(d.booking);
    const b = d.bookingId !== undefined ? this.byId.get(String(d.bookingId)) : undefined;
    if (!b) return;
    if (e.type === 'payment.status_changed') {
      this.byId.set(b.id, { ...b, payment: { id: String(d.paymentId), reference: String(d.reference), status: String(d.status), amount: Number(d.amount) } });
      this.changed();
    } else if (e.type === 'payout.status_changed') {
      this.byId.set(b.id, {
        ...b,
        payout: { id: String(d.payoutId), status: String(d.status), amount: Number(d.amount), ...(d.reason ? { reason: String(d.reason) } : {}) },
      });
      this.changed();
    }
  }

  newestFirst(): Booking[] {
    return [...this.byId.values()].sort((a, b) => Number(b.id) - Number(a.id));
  }
}

export const BOOKING_EVENTS: readonly EventTypeName[] = [
  'booking.created',
  'booking.accepted',
  'booking.rejected',
  'booking.started',
  'booking.completed',
  'booking.cancelled',
  'booking.completion_confirmed',
  'booking.expired',
  'payment.status_changed',
  'payout.status_changed',
];

/** A sync's bookings, active and recent, each once. */
export function syncedBookings(s: SyncState): Booking[] {
  const byId = new Map<string, Booking>();
  for (const b of [...s.bookings.recent, ...s.bookings.active]) byId.set(b.id, b);
  return [...byId.values()];
}
