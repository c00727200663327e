import type { Db } from '../storage/db';
import type { ChannelName } from '../events/event-types';

export interface NotificationRow {
  id: string;
  user_id: string | null;
  audience: string[] | null;
  type: string;
  title: string;
  body: string;
  data: unknown;
  silent: boolean;
  read_at: Date | null;
  created_at: Date;
}

export interface NotificationView {
  id: string;
  type: string;
  title: string;
  body: string;
  data: unknown;
  createdAt: string;
  readAt: string | null;
  silent: boolean;
}

export const toNotificationView = (r: NotificationRow, silent = r.silent): NotificationView => ({
  id: String(r.id),
  type: r.type,
  title: r.title,
  body: r.body,
  data: r.data,
  createdAt: new Date(r.created_at).toISOString(),
  readAt: r.read_at ? new Date(r.read_at).toISOString() : null,
  silent,
});

export async function insertNotification(
  db: Db,
  n: { user_id?: string; audience?: ChannelName[]; type: string; title: string; body: string; data: unknown; silent: boolean },
): Promise<NotificationRow> {
  const [row]: NotificationRow[] = await db('notifications')
    .insert({
      user_id: n.user_id ?? null,
      audience: n.audience ? db.raw('?::text[]', [n.audience]) : null,
      type: n.type,
      title: n.title,
      body: n.body,
      data: JSON.stringify(n.data ?? null),
      silent: n.silent,
    })
    .returning('*');
  return row;
}

/**
 * A user's inbox: their own notifications, plus announcements addressed to their role or to all
 * that were sent after they joined, with read state from notification_reads. One query shape
 * serves listing, counting and marking.
 */
function inbox(db: Db, user: { id: string; role: string }) {
  return db('notifications as n')
    .leftJoin('notification_reads as r', function () {
      this.on('r.notification_id', 'n.id').andOn('r.user_id', db.raw('?', [user.id]));
    })
    .where((w) =>
      w.where('n.user_id', user.id).orWhere((b) =>
        b
          .whereNull('n.user_id')
          .andWhereRaw('n.audience && ?::text[]', [[`role:${user.role}`, 'all']])
          .andWhere('n.created_at', '>=', db('users').select('created_at').where({ id: user.id })),
      ),
    );
}

const readAt = (db: Db) => db.raw('coalesce(n.read_at, r.read_at) as read_at');

export async function listInbox(
  db: Db,
  user: { id: string; role: string },
  o: { unreadOnly: boolean; before?: string; limit: number },
): Promise<NotificationRow[]> {
  const q = inbox(db, user)
    .select('n.id', 'n.user_id', 'n.audience', 'n.type', 'n.title', 'n.body', 'n.data', 'n.silent', 'n.created_at', readAt(db))
    .orderBy('n.id', 'desc')
    .limit(o.limit);
  if (o.unreadOnly) q.whereNull('n.read_at').whereNull('r.read_at');
  if (o.before) q.andWhere('n.id', '<', o.before);
  return q;
}

export async function unreadCount(db: Db, user: { id: string; role: string }): Promise<number> {
  const row = await inbox(db, user).whereNull('n.read_at').whereNull('r.read_at').count<{ count: string }[]>('* as count').first();
  return Number(row?.count ?? 0);
}

/** Marks some (or, with `ids` omitted, all) unread notifications of the user read; returns the ids marked. */
export async function markRead(db: Db, user: { id: string; role: string }, ids?: string[]): Promise<string[]> {
  const q = inbox(db, user).whereNull('n.read_at').whereNull('r.read_at').select('n.id', 'n.user_id');
  if (ids) q.whereIn('n.id', ids);
  const unread: Array<{ id: string; user_id: string | null }> = await q;
  const own = unread.filter((n) => n.user_id !== null).map((n) => String(n.id));
  const shared = unread.filter((n) => n.user_id === null).map((n) => String(n.id));
  if (own.length) await db('notifications').whereIn('id', own).update({ read_at: db.fn.now() });
  if (shared.length) {
    await db('notification_reads')
      .insert(shared.map((id) => ({ notification_id: id, user_id: user.id })))
      .onConflict(['user_id', 'notification_id'])
      .ignore();
  }
  return [...own, ...shared].sort((a, b) => Number(a) - Number(b));
}

/** Whether the notification is in this user's inbox at all (else a 404, so others' ids do not leak). */
export async function isInInbox(db: Db, user: { id: string; role: string }, id: string): Promise<boolean> {
  return Boolean(await inbox(db, user).where('n.id', id).first('n.id'));
}

export async function mutedTypes(db: Db, userIds: string[]): Promise<Map<string, Set<string>>> {
  const rows: Array<{ user_id: string; muted_types: string[] }> = await db('notification_preferences').whereIn('user_id', userIds);
  return new Map(rows.map((r) => [r.user_id, new Set(r.muted_types)]));
}

export async function setMutedTypes(db: Db, userId: string, types: string[]): Promise<void> {
  await db('notification_preferences')
    .insert({ user_id: userId, muted_types: db.raw('?::text[]', [types]) })
    .onConflict('user_id')
    .merge();
}
