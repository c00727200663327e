import type { Knex } from 'knex';
import type { Principal } from '../auth/principal';
import { logBounds } from '../events/event-log';
import { inReadOnlySnapshot } from '../storage/snapshot-repository';
import type { Inbox } from '../notifications/inbox';
import { listBookingViews } from '../bookings/booking-repository';
import { bookingViewFor } from '../bookings/booking-views';
import type { BookingView } from '../bookings/booking-schemas';
import type { BookingStatus } from '../contract/vocabulary';
import { listPayments, listPayouts } from '../payments/money-lists';
import { findUser } from '../users/user-repository';
import { profile } from '../users/user-routes';
import type { SyncState } from '../contract/views';

export type { SyncState };

/** Bookings that can still move without anyone starting something new. */
const ACTIVE: readonly BookingStatus[] = ['PENDING', 'CONFIRMED', 'IN_PROGRESS'];
/** Every active booking up to this many per status; more than that is not one person's day. */
const ACTIVE_MAX = 100;
export const RECENT_BOOKINGS = 20;
export const RECENT_MONEY = 20;
export const UNREAD_SHOWN = 50;

/**
 * GET /api/sync: the caller's state and the event cursor it is consistent with, read in one
 * REPEATABLE READ snapshot. A change and its events commit in one transaction, and appends are
 * serialized (event-log.ts), so the snapshot holds exactly the changes of the events up to
 * `cursor` and none after it: a client that applies what comes after `cursor` misses nothing and
 * applies nothing twice. The lists are the same repositories and views as their own routes.
 */
export async function readSyncState(knex: Knex, notifications: Inbox, p: Principal): Promise<SyncState> {
  return inReadOnlySnapshot(knex, async (trx) => {
    // The first statement takes the snapshot; every read below sees the same one.
    const { lastId } = await logBounds(trx);
    const user = await findUser(trx, p.userId);
    // As the routes: an admin sees every booking and payment.
    const userId = p.role === 'admin' ? undefined : p.userId;
    const active: BookingView[] = [];
    for (const status of ACTIVE) active.push(...(await listBookingViews(trx, { userId, status, limit: ACTIVE_MAX })));
    active.sort((a, b) => Number(BigInt(b.id) - BigInt(a.id)));
    const recent = await listBookingViews(trx, { userId, limit: RECENT_BOOKINGS });
    // Each booking as this caller may see it: a client's has no payout, as on every other route.
    const seen = (views: BookingView[]) => views.map((v) => bookingViewFor(v, p));
    const who = p.role === 'admin' ? {} : p.role === 'provider' ? { providerId: p.userId } : { clientId: p.userId };
    const payments = await listPayments(trx, { limit: RECENT_MONEY, ...who });
    const payouts = p.role === 'client' ? undefined : await listPayouts(trx, { limit: RECENT_MONEY, ...(p.role === 'admin' ? {} : { providerId: p.userId }) });
    const inbox = await notifications.list(p, { unreadOnly: true, limit: UNREAD_SHOWN }, trx);
    return {
      cursor: lastId,
      // Authentication wrote the user before this request got here.
      profile: profile(user!),
      bookings: { active: seen(active), recent: seen(recent) },
      payments: { items: payments.payments, nextCursor: payments.nextCursor },
      ...(payouts ? { payouts: { items: payouts.payouts, nextCursor: payouts.nextCursor } } : {}),
      notifications: { unread: inbox.notifications, unreadCount: inbox.unreadCount, nextCursor: inbox.nextCursor },
    };
  });
}
