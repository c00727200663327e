import type { Knex } from 'knex';
import { userChannel } from '../events/audience';
import type { ChannelName, NewEvent } from '../events/event-types';
import type { DeriveEvents } from '../events/event-publisher';
import {
  bookingFactsOf,
  insertNotification,
  insertPersonalNotifications,
  toNotificationView,
  type BookingFacts,
  type PersonalNotification,
} from './notification-repository';
import { notificationText, type EventFacts, type Side } from './notification-text';

/** The booking an event is about: `payload.booking.id` (booking events) or `payload.bookingId`. */
function bookingIdOf(e: NewEvent): string | undefined {
  const payload = (e.payload ?? {}) as { booking?: { id?: unknown }; bookingId?: unknown };
  const id = payload.booking?.id ?? payload.bookingId;
  return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
}

/**
 * Turns events into notifications inside the transaction that writes the events, so an event and
 * its notifications commit together: the publisher's derive hook (with the operators' alerts,
 * payments/attention.ts). Every personal notification of the transaction is written by one
 * statement, after one read of the bookings the events are about. Notifications are returned in
 * their events' order, each as its `notification.created` event.
 *
 * `timeZone`: the marketplace's (config MARKETPLACE_TIME_ZONE), in which notifications say times.
 */
export function notificationsOf(timeZone?: string): DeriveEvents {
  return async (trx, events) => {
    const ids = [...new Set(events.filter((e) => e.type !== 'announcement').map(bookingIdOf))].filter((id): id is string => !!id);
    const bookings = await bookingFactsOf(trx, ids);
    const wanted: PersonalNotification[] = [];
    // A derived event, or the index in `wanted` of the notification it announces.
    const slots: Array<NewEvent | number> = [];
    const want = (n: PersonalNotification) => slots.push(wanted.push(n) - 1);
    for (const e of events) {
      if (e.type === 'announcement') {
        const p = e.payload as { title: string; body: string };
        const users = new Set(e.audience.filter((c) => c.startsWith('user:')).map((c) => c.slice(5)));
        const shared = e.audience.filter((c) => !c.startsWith('user:'));
        if (shared.length) slots.push(await announceShared(trx, shared, { type: 'announcement', ...p }));
        for (const userId of users) want({ userId, type: 'announcement', title: p.title, body: p.body, data: {} });
        continue;
      }
      const booking: BookingFacts | undefined = bookings.get(bookingIdOf(e) ?? '');
      if (!booking) continue;
      const facts: EventFacts = { type: e.type, payload: e.payload ?? {}, booking };
      // What needs an operator is one shared notification for every admin, like an announcement.
      const forAdmins = e.audience.includes('role:admin') ? notificationText(facts, 'admin', timeZone) : null;
      if (forAdmins) slots.push(await announceShared(trx, ['role:admin'], { type: e.type, ...forAdmins }));
      for (const [side, userId] of [
        ['client', booking.clientId],
        ['provider', booking.providerId],
      ] as Array<[Side, string]>) {
        const text = notificationText(facts, side, timeZone);
        if (text) want({ userId, type: e.type, ...text, data: { bookingId: booking.id } });
      }
    }
    const created = wanted.length ? await insertPersonalNotifications(trx, wanted) : [];
    return slots.flatMap((s) => {
      if (typeof s !== 'number') return [s];
      const row = created[s];
      if (!row) return [];
      const event: NewEvent = {
        type: 'notification.created',
        audience: [userChannel(wanted[s].userId)],
        payload: { notification: toNotificationView(row), unreadCount: row.unreadCount },
      };
      return [event];
    });
  };
}

/** One row however many users the role has: fan-out happens when inboxes are read. */
async function announceShared(trx: Knex.Transaction, audience: ChannelName[], p: { type: string; title: string; body: string }): Promise<NewEvent> {
  const row = await insertNotification(trx, { audience, type: p.type, title: p.title, body: p.body, data: {}, silent: false });
  return { type: 'notification.created', audience, payload: { notification: toNotificationView(row) } };
}
