import type { Knex } from 'knex';
import type { Principal } from '../auth/principal';
import { userChannel } from '../events/audience';
import type { NewEvent } from '../events/event-types';
import { AppError } from '../http/app-error';
import { pageOf } from '../storage/paging';
import {
  insertNotification,
  isInInbox,
  listInbox,
  markRead,
  mutedTypes,
  setMutedTypes,
  toNotificationView,
  unreadCount,
  type NotificationView,
} from './notification-repository';
import { notificationText, type EventFacts, type Side } from './notification-text';
import type { EventPublisher } from '../events/event-publisher';

interface Who {
  id: string;
  role: string;
}

/**
 * Turns events into notifications inside the transaction that writes the events, so an event and
 * its notifications commit together; and serves each user's inbox.
 */
export class NotificationService {
  private publisher!: EventPublisher;

  constructor(private readonly knex: Knex) {}

  /** Late-bound: the publisher calls `derive`, and reads publish through the publisher. */
  attach(publisher: EventPublisher): void {
    this.publisher = publisher;
  }

  /** The publisher's hook: notifications (and their `notification.created` events) for `events`. */
  async derive(trx: Knex.Transaction, events: readonly NewEvent[]): Promise<NewEvent[]> {
    const out: NewEvent[] = [];
    for (const e of events) {
      if (e.type === 'announcement') out.push(...(await this.announce(trx, e)));
      else out.push(...(await this.personal(trx, e)));
    }
    return out;
  }

  private async announce(trx: Knex.Transaction, e: NewEvent): Promise<NewEvent[]> {
    const p = e.payload as { title: string; body: string };
    const users = e.audience.filter((c) => c.startsWith('user:')).map((c) => c.slice(5));
    const shared = e.audience.filter((c) => !c.startsWith('user:'));
    const out: NewEvent[] = [];
    if (shared.length) {
      // One row however many users the role has: fan-out happens when inboxes are read.
      const row = await insertNotification(trx, { audience: shared, type: 'announcement', title: p.title, body: p.body, data: {}, silent: false });
      out.push({ type: 'notification.created', audience: shared, payload: { notification: toNotificationView(row) } });
    }
    if (users.length) {
      // The recipients and their muted types in one read (inside the append's transaction).
      const existing: Array<{ id: string; role: string; muted_types: string[] | null }> = await trx('users as u')
        .leftJoin('notification_preferences as np', 'np.user_id', 'u.id')
        .whereIn('u.id', users)
        .select('u.id', 'u.role', 'np.muted_types');
      for (const u of existing) {
        out.push(await this.notify(trx, u, 'announcement', { title: p.title, body: p.body }, {}, u.muted_types?.includes('announcement') ?? false));
      }
    }
    return out;
  }

  private async personal(trx: Knex.Transaction, e: NewEvent): Promise<NewEvent[]> {
    const facts = await this.facts(trx, e);
    if (!facts?.booking) return [];
    const b = facts.booking;
    const recipients: Array<[Side, string]> = [
      ['client', b.clientId],
      ['provider', b.providerId],
    ];
    const out: NewEvent[] = [];
    for (const [side, userId] of recipients) {
      const text = notificationText(facts, side);
      if (!text) continue;
      const silent = facts.muted[side].includes(e.type);
      // The user's own role, not their side of the booking: it decides which announcements count as unread.
      out.push(await this.notify(trx, { id: userId, role: facts.roles[side] }, e.type, text, { bookingId: b.id }, silent));
    }
    return out;
  }

  private async notify(
    trx: Knex.Transaction,
    user: Who,
    type: string,
    text: { title: string; body: string },
    data: unknown,
    silent: boolean,
  ): Promise<NewEvent> {
    const row = await insertNotification(trx, { user_id: user.id, type, ...text, data, silent });
    return {
      type: 'notification.created',
      audience: [userChannel(user.id)],
      payload: { notification: toNotificationView(row), unreadCount: await unreadCount(trx, user) },
    };
  }

  /** The booking (with names) an event is about, read in the event's own transaction. */
  private async facts(
    trx: Knex.Transaction,
    e: NewEvent,
  ): Promise<(EventFacts & { roles: Record<Side, string>; muted: Record<Side, string[]> }) | null> {
    const payload = (e.payload ?? {}) as Record<string, any>;
    const bookingId: string | undefined = payload.booking?.id ?? payload.bookingId;
    if (!bookingId) return null;
    const row = await trx('bookings as b')
      .join('users as c', 'c.id', 'b.client_id')
      .join('users as p', 'p.id', 'b.provider_id')
      // Both sides' muted types in the same read.
      .leftJoin('notification_preferences as cnp', 'cnp.user_id', 'b.client_id')
      .leftJoin('notification_preferences as pnp', 'pnp.user_id', 'b.provider_id')
      .where('b.id', bookingId)
      .first(
        'b.id',
        'b.client_id',
        'b.provider_id',
        'b.service',
        'c.name as client_name',
        'p.name as provider_name',
        'c.role as client_role',
        'p.role as provider_role',
        'cnp.muted_types as client_muted',
        'pnp.muted_types as provider_muted',
      );
    if (!row) return null;
    return {
      type: e.type,
      payload,
      roles: { client: row.client_role, provider: row.provider_role },
      muted: { client: row.client_muted ?? [], provider: row.provider_muted ?? [] },
      booking: {
        id: String(row.id),
        clientId: row.client_id,
        providerId: row.provider_id,
        service: row.service,
        clientName: row.client_name ?? 'a client',
        providerName: row.provider_name ?? 'Your provider',
      },
    };
  }

  async list(
    p: Principal,
    o: { unreadOnly: boolean; before?: string; limit: number },
  ): Promise<{ notifications: NotificationView[]; unreadCount: number; nextCursor: string | null }> {
    const me = { id: p.userId, role: p.role };
    const rows = await listInbox(this.knex, me, { ...o, limit: o.limit + 1 });
    const muted = (await mutedTypes(this.knex, [p.userId])).get(p.userId) ?? new Set<string>();
    const { items, nextCursor } = pageOf(rows, o.limit);
    return {
      // Muted types are silent even for announcements written before the preference changed.
      notifications: items.map((r) => toNotificationView(r, r.silent || muted.has(r.type))),
      unreadCount: await unreadCount(this.knex, me),
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

  async preferences(p: Principal): Promise<{ mutedTypes: string[] }> {
    return { mutedTypes: [...((await mutedTypes(this.knex, [p.userId])).get(p.userId) ?? [])].sort() };
  }

  async setPreferences(p: Principal, types: string[]): Promise<{ mutedTypes: string[] }> {
    await setMutedTypes(this.knex, p.userId, [...new Set(types)].sort());
    return this.preferences(p);
  }
}
