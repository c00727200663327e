import type { Knex } from 'knex';
import type { Db } from '../storage/db';
import type { ChannelName } from '../events/event-types';
import type { NotificationView } from '../contract/views';
export type { NotificationView } from '../contract/views';

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
  const [row] = await db('notifications')
    .insert({
      user_id: n.user_id ?? null,
      audience: n.audience ? db.raw('?::text[]', [n.audience]) : null,
      type: n.type,
      title: n.title,
      body: n.body,
      data: JSON.stringify(n.data ?? null),
      silent: n.silent,
    })
    .returning<NotificationRow[]>('*');
  return row;
}

/** Whose inbox, as SQL: their id, the channels of their role, and when they joined. */
interface InboxOwner {
  id: Knex.Raw;
  channels: Knex.Raw;
  joinedAt: Knex.Raw | Knex.QueryBuilder;
}

const ownerOf = (db: Db, user: { id: string; role: string }): InboxOwner => ({
  id: db.raw('?', [user.id]),
  channels: db.raw('?::text[]', [[`role:${user.role}`, 'all']]),
  joinedAt: db('users').select('created_at').where({ id: user.id }),
});

/**
 * A user's inbox: their own notifications, plus announcements addressed to their role or to all
 * that were sent after they joined, with read state from notification_reads. One query shape
 * serves listing, counting and marking.
 */
function inbox(db: Db, user: { id: string; role: string }) {
  return inboxOf(db, ownerOf(db, user));
}

function inboxOf(db: Db, owner: InboxOwner) {
  return db('notifications as n')
    .leftJoin('notification_reads as r', function () {
      this.on('r.notification_id', 'n.id').andOn('r.user_id', owner.id);
    })
    .where((w) => {
      w.where('n.user_id', owner.id).orWhere((b) => {
        b.whereNull('n.user_id').andWhereRaw('n.audience && ?', [owner.channels]).andWhere('n.created_at', '>=', owner.joinedAt);
      });
    });
}

const onlyUnread = (q: Knex.QueryBuilder) => q.whereNull('n.read_at').whereNull('r.read_at');

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
  if (o.unreadOnly) onlyUnread(q);
  if (o.before) q.andWhere('n.id', '<', o.before);
  return q;
}

export async function unreadCount(db: Db, user: { id: string; role: string }): Promise<number> {
  const row = await onlyUnread(inbox(db, user)).count<{ count: string }[]>('* as count').first();
  return Number(row?.count ?? 0);
}

/** A personal notification to write; `silent` is decided from the recipient's muted types. */
export interface PersonalNotification {
  userId: string;
  type: string;
  title: string;
  body: string;
  data: unknown;
}

export type CreatedNotification = NotificationRow & { unreadCount: number };

/**
 * Writes personal notifications in one statement, each with its recipient's unread count just
 * after it. A user that does not exist gets none (an announcement may name one); a type the user
 * muted is written silent. Returns the row for each of `wanted`, in order, or undefined.
 */
export async function insertPersonalNotifications(db: Db, wanted: readonly PersonalNotification[]): Promise<Array<CreatedNotification | undefined>> {
  const input = JSON.stringify(wanted.map((w, ord) => ({ ord, user_id: w.userId, type: w.type, title: w.title, body: w.body, data: w.data ?? null })));
  const { rows } = await db
    .raw<{ rows: Array<NotificationRow & { ord: number; unread_count: string }> }>(insertPersonalSql(db), [input, wanted.length])
    // Prepared once per connection and planned from then on from its cache: planning it afresh
    // is a large part of every write, and each booking event and personal announcement makes one.
    .options({ name: 'notifications_insert_personal' });
  const out = new Array<CreatedNotification | undefined>(wanted.length);
  for (const { ord, unread_count, ...row } of rows) out[ord] = { ...row, unreadCount: Number(unread_count) };
  return out;
}

let insertPersonalText: string | undefined;

/**
 * Ids are drawn in `ord` order before the insert, so each row is matched back to its recipient
 * by id. The unread count is the inbox count (the same query shape as everywhere, per recipient)
 * as of before this statement, which cannot see its own inserts, plus this row's rank among the
 * recipient's new ones: what counting after each insert in turn would give.
 *
 * The LIMIT, bound to the input's length, is how the planner learns that length: it guesses 100
 * rows for any set-returning function, and against that guess a hash join over every user wins,
 * a sequential scan of the users table on every write instead of an index lookup per recipient.
 *
 * It is a named (prepared) statement, so its result columns are listed: a prepared statement whose
 * row type changes under it (a column added while an older instance runs) fails until re-prepared.
 * And after a few runs PostgreSQL may reuse a plan made without the values, LIMIT unknown: the
 * preferences are read by a subquery per recipient, which only an index lookup can answer, since
 * such a plan joined them by scanning the whole table.
 */
function insertPersonalSql(db: Db): string {
  return (insertPersonalText ??= `WITH recipients AS MATERIALIZED (
  SELECT nextval('notifications_id_seq'::regclass) AS id, w.* FROM (
    SELECT w.ord, w.user_id, w.type, w.title, w.body, coalesce(w.data, 'null'::jsonb) AS data,
      coalesce(w.type = ANY ((SELECT np.muted_types FROM notification_preferences np WHERE np.user_id = w.user_id)::text[]), false) AS silent,
      u.role, u.created_at AS joined_at
    FROM (SELECT * FROM jsonb_to_recordset(?::jsonb) AS x(ord int, user_id text, type text, title text, body text, data jsonb) LIMIT ?) w
    JOIN users u ON u.id = w.user_id
    ORDER BY w.ord
  ) w
), inserted AS (
  INSERT INTO notifications (id, user_id, type, title, body, data, silent)
  SELECT id, user_id, type, title, body, data, silent FROM recipients
  RETURNING *
)
SELECT i.id, i.user_id, i.audience, i.type, i.title, i.body, i.data, i.silent, i.read_at, i.created_at, rc.ord,
  (${onlyUnread(
    inboxOf(db, {
      id: db.raw('??', ['rc.user_id']),
      channels: db.raw("ARRAY['role:' || rc.role, 'all']"),
      joinedAt: db.raw('??', ['rc.joined_at']),
    }),
  )
    .count('*')
    .toQuery()}) + row_number() OVER (PARTITION BY rc.user_id ORDER BY rc.id) AS unread_count
FROM inserted i JOIN recipients rc ON rc.id = i.id`);
}

/** Marks some (or, with `ids` omitted, all) unread notifications of the user read; returns the ids marked. */
export async function markRead(db: Db, user: { id: string; role: string }, ids?: string[]): Promise<string[]> {
  const q = onlyUnread(inbox(db, user)).select<Array<{ id: string; user_id: string | null }>>('n.id', 'n.user_id');
  if (ids) q.whereIn('n.id', ids);
  const unread = await q;
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
  const rows = await db<{ user_id: string; muted_types: string[] }>('notification_preferences').whereIn('user_id', userIds);
  return new Map(rows.map((r) => [r.user_id, new Set(r.muted_types)]));
}

/** What a notification says about the booking an event is about, with both parties' names. */
export interface BookingFacts {
  id: string;
  clientId: string;
  providerId: string;
  service: string;
  clientName: string;
  providerName: string;
}

/** The bookings (with names) of `ids`, read in the events' own transaction, by id. */
export async function bookingFactsOf(trx: Db, ids: readonly string[]): Promise<Map<string, BookingFacts>> {
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
