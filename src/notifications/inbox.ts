import type { Knex } from 'knex';
import type { Principal } from '../auth/principal';
import { userChannel } from '../events/audience';
import { AppError } from '../errors/app-error';
import { pageOf } from '../storage/paging';
import type { Db } from '../storage/db';
import type { EventPublisher } from '../events/event-publisher';
import { deliveriesOf, type DeliveryView } from '../channels/delivery-repository';
import { isInInbox, listInbox, markRead, mutedTypes, toNotificationView, unreadCount, type NotificationView } from './notification-repository';

/** Each user's inbox: their notifications and their role's, what is unread, and reading them. */
export class Inbox {
  constructor(
    private readonly knex: Knex,
    /** Reading publishes `notification.read`, so every tab and phone of the user hears of it. */
    private readonly publisher: EventPublisher,
  ) {}

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
    const deliveries = await deliveriesOf(
      db,
      p.userId,
      items.map((r) => String(r.id)),
    );
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
