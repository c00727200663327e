import type { Knex } from 'knex';
import type { Principal } from '../auth/principal';
import { userChannel } from '../events/audience';
import type { ChannelName, NewEvent } from '../events/event-types';
import { AppError } from '../errors/app-error';
import { pageOf } from '../storage/paging';
import type { Db } from '../storage/db';
import {
  insertNotification,
  insertPersonalNotifications,
  isInInbox,
  listInbox,
  markRead,
  mutedTypes,
  toNotificationView,
  unreadCount,
  type NotificationView,
  type PersonalNotification,
} from './notification-repository';
import { notificationText, type EventFacts, type Side } from './notification-text';
import type { EventPublisher } from '../events/event-publisher';
import { deliveriesOf, type DeliveryView } from '../channels/delivery-repository';

/** The booking an event is about: `payload.booking.id` (booking events) or `payload.bookingId`. */
function bookingIdOf(e: NewEvent): string | undefined {
  const payload = (e.payload ?? {}) as { booking?: { id?: unknown }; bookingId?: unknown };
  const id = payload.booking?.id ?? payload.bookingId;
  return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
}

/**
 * Turns events into notifications inside the transaction that writes the events, so an event and
 * its notifications commit together; and serves each user's inbox.
 */
export class NotificationService {
  private publisher!: EventPublisher;

  /** `timeZone`: the marketplace's (config MARKETPLACE_TIME_ZONE), in which notifications say times. */
  constructor(
    private readonly knex: Knex,
    private readonly timeZone?: string,
  ) {}

  /** Late-bound: the publisher calls `derive`, and reads publish through the publisher. */
  attach(publisher: EventPublisher): void {
    this.publisher = publisher;
  }

  /**
   * The publisher's hook: notifications (and their `notification.created` events) for `events`,
   * in their order. Every personal notification of the transaction is written by one statement,
   * after one read of the bookings the events are about.
   */
  async derive(trx: Knex.Transaction, events: readonly NewEvent[]): Promise<NewEvent[]> {
    const bookings = await this.bookingFacts(trx, events);
    const wanted: PersonalNotification[] = [];
    // A derived event, or the index in `wanted` of the notification it announces.
    const slots: Array<NewEvent | number> = [];
    const want = (n: PersonalNotification) => slots.push(wanted.push(n) - 1);
    for (const e of events) {
      if (e.type === 'announcement') {
        const p = e.payload as { title: string; body: string };
        const users = new Set(e.audience.filter((c) => c.startsWith('user:')).map((c) => c.slice(5)));
        const shared = e.audience.filter((c) => !c.startsWith('user:'));
        if (shared.length) slots.push(await this.announceShared(trx, shared, { type: 'announcement', ...p }));
        for (const userId of users) want({ userId, type: 'announcement', title: p.title, body: p.body, data: {} });
        continue;
      }
      const booking = bookings.get(bookingIdOf(e) ?? '');
      if (!booking) continue;
      const facts: EventFacts = { type: e.type, payload: e.payload ?? {}, booking };
      // What needs an operator is one shared notification for every admin, like an announcement.
      const forAdmins = e.audience.includes('role:admin') ? notificationText(facts, 'admin', this.timeZone) : null;
      if (forAdmins) slots.push(await this.announceShared(trx, ['role:admin'], { type: e.type, ...forAdmins }));
      for (const [side, userId] of [['client', booking.clientId], ['provider', booking.providerId]] as Array<[Side, string]>) {
        const text = notificationText(facts, side, this.timeZone);
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
  }

  /** One row however many users the role has: fan-out happens when inboxes are read. */
  private async announceShared(trx: Knex.Transaction, audience: ChannelName[], p: { type: string; title: string; body: string }): Promise<NewEvent> {
    const row = await insertNotification(trx, { audience, type: p.type, title: p.title, body: p.body, data: {}, silent: false });
    return { type: 'notification.created', audience, payload: { notification: toNotificationView(row) } };
  }

  /** The bookings (with names) that `events` are about, read in their own transaction, by id. */
  private async bookingFacts(trx: Knex.Transaction, events: readonly NewEvent[]): Promise<Map<string, NonNullable<EventFacts['booking']>>> {
    const ids = [...new Set(events.filter((e) => e.type !== 'announcement').map(bookingIdOf))].filter((id): id is string => !!id);
    if (!ids.length) return new Map();
    const rows: Array<{ id: string; client_id: string; provider_id: string; service: string; client_name: string | null; provider_name: string | null }> =
      await trx('bookings as b')
        .join('users as c', 'c.id', 'b.client_id')
        .join('users as p', 'p.id', 'b.provider_id')
        .whereIn('b.id', ids)
        .select('b.id', 'b.client_id', 'b.provider_id', 'b.service', 'c.name as client_name', 'p.name as provider_name');
    return new Map(
      rows.map((row) => [
        String(row.id),
        {
          id: String(row.id),
          clientId: row.client_id,
          providerId: row.provider_id,
          service: row.service,
          clientName: row.client_name ?? 'a client',
          providerName: row.provider_name ?? 'Your provider',
        },
      ]),
    );
  }

  /** `db` may be a transaction, for a read that must agree with others (GET /api/sync). */
  async list(
    p: Principal,
    o: { unreadOnly: boolean; before?: string; limit: number },
    db: Db = this.knex,
  ): Promise<{ notifications: Array<NotificationView & { deliveries: DeliveryView[] }>; unreadCount: number; nextCursor: string | null }> {
    const me = { id: p.userId, role: p.role };
    const rows = await listInbox(db, me, { ...o, limit: o.limit + 1 });
    const muted = (await mutedTypes(db, [p.userId])).get(p.userId) ?? new Set<string>();
    const { items, nextCursor } = pageOf(rows, o.limit);
    // Where each notification went beyond the tab (email, push, WhatsApp, SMS), and why not.
    const deliveries = await deliveriesOf(db, p.userId, items.map((r) => String(r.id)));
    return {
      // Muted types are silent even for announcements written before the preference changed.
      notifications: items.map((r) => ({ ...toNotificationView(r, r.silent || muted.has(r.type)), deliveries: deliveries.get(String(r.id)) ?? [] })),
      unreadCount: await unreadCount(db, me),
      nextCursor,
    };
  }

  async unreadCount(p: Principal): Promise<number> {
    return unreadCount(this.knex, { id: p.userId, role: p.role });
  }

  /** Marks one notification (or all, with `id` omitted) read; every tab and phone hears of it. */
  async markRead(p: Principal, id?: string): Promise<{ unreadCount: number }> {
    const me = { id: p.userId, role: p.role };
    const { result } = await this.publisher.transaction(async (trx, emit) => {
      if (id !== undefined && !(await isInInbox(trx, me, id))) throw new AppError('NOT_FOUND', 'Notification not found');
      const ids = await markRead(trx, me, id === undefined ? undefined : [id]);
      const count = await unreadCount(trx, me);
      if (ids.length) emit({ type: 'notification.read', audience: [userChannel(p.userId)], payload: { ids, unreadCount: count } });
      return { unreadCount: count };
    });
    return result;
  }
}
